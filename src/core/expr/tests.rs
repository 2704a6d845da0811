use super::*;

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn eval(text: &str, vars: &[&str], args: &[f32]) -> f32 {
    let e = Expr::parse(text, &names(vars)).unwrap_or_else(|e| panic!("{text}: {e}"));
    e.eval(args, &mut Vec::new())
}

fn error(text: &str, vars: &[&str]) -> ExprError {
    Expr::parse(text, &names(vars)).expect_err(text)
}

/// A WGSL module with `rate(c0, c1, p0, p1)` computing `e`, validated by naga.
fn wgsl_module(e: &Expr) -> String {
    let (body, result) = e.wgsl("t", &|k| format!("a{k}"));
    format!(
        "fn rate(a0: f32, a1: f32, a2: f32, a3: f32) -> f32 {{\n{body}    return {result};\n}}\n"
    )
}

#[test]
fn schnakenberg_evaluates_like_rust() {
    let v = ["u", "v", "a", "b"];
    let (u, w, a, b) = (0.7f32, 1.3f32, 0.1f32, 0.9f32);
    assert_eq!(
        eval("a - u + u * u * v", &v, &[u, w, a, b]),
        a - u + u * u * w
    );
    assert_eq!(eval("b - u * u * v", &v, &[u, w, a, b]), b - u * u * w);
}

#[test]
fn precedence_and_associativity_follow_wgsl() {
    assert_eq!(eval("2 - 3 - 4", &[], &[]), -5.0);
    assert_eq!(eval("2 * 3 + 4 * 5", &[], &[]), 26.0);
    assert_eq!(eval("24 / 4 / 2", &[], &[]), 3.0);
    assert_eq!(eval("-2 * 3", &[], &[]), -6.0);
    assert_eq!(eval("u - -u", &["u"], &[1.5]), 3.0);
    assert_eq!(eval("(1 + 2) * 3", &[], &[]), 9.0);
    assert_eq!(eval("7 % 4", &[], &[]), 3.0);
    // Every number is an f32: no integer division.
    assert_eq!(eval("1 / 2", &[], &[]), 0.5);
    assert_eq!(eval("1.5e1 + .5 + 2.f + 3f", &[], &[]), 20.5);
}

#[test]
fn builtins_select_and_logic() {
    let u = 0.3f32;
    let x = eval(
        "select(0.0, exp(-u) * max(u, 0.5), u > 0.25) + pow(u, 2.0)",
        &["u"],
        &[u],
    );
    assert_eq!(x, (-u).exp() * 0.5 + u.powf(2.0));
    assert_eq!(
        eval(
            "select(0.0, exp(-u) * max(u, 0.5), u > 0.25)",
            &["u"],
            &[0.1]
        ),
        0.0
    );
    assert_eq!(
        eval("select(1, 2, u > 0 && !(u >= 1) || false)", &["u"], &[0.5]),
        2.0
    );
    assert_eq!(eval("select(1, 2, (u < 0) == true)", &["u"], &[0.5]), 1.0);
    assert_eq!(
        eval("clamp(u, 0, 1) + mix(0, 10, 0.25)", &["u"], &[4.0]),
        3.5
    );
    assert_eq!(
        eval("step(0.5, u) + sign(-u) + round(2.5)", &["u"], &[1.0]),
        2.0
    );
    assert_eq!(
        eval("fma(2, 3, 4) + min(u, 1) + abs(-u)", &["u"], &[0.5]),
        11.0
    );
}

#[test]
fn every_function_is_printed_and_validated_by_naga() {
    for (name, f) in FUNCS {
        let args = match f.signature().0.len() {
            1 => "a0".to_string(),
            2 => "a0, a1".to_string(),
            _ if *f == Func::Select => "a0, a1, a2 > a3".to_string(),
            _ => "a0, a1, a2".to_string(),
        };
        let text = format!("{name}({args}) + 1");
        let e = Expr::parse(&text, &names(&["a0", "a1", "a2", "a3"])).unwrap();
        crate::core::shaders::validate("expr", &wgsl_module(&e))
            .unwrap_or_else(|err| panic!("{text}: {err}"));
    }
}

#[test]
fn the_printed_wgsl_holds_no_user_text() {
    let e = Expr::parse("a - u + u*u*v", &names(&["u", "v", "a"])).unwrap();
    let (body, result) = e.wgsl("t", &|k| format!("c[{k}u]"));
    assert_eq!(
        body,
        "    let t0: f32 = c[2u];\n    let t1: f32 = c[0u];\n    let t2: f32 = t0 - t1;\n    \
         let t3: f32 = c[0u];\n    let t4: f32 = c[0u];\n    let t5: f32 = t3 * t4;\n    \
         let t6: f32 = c[1u];\n    let t7: f32 = t5 * t6;\n    let t8: f32 = t2 + t7;\n"
    );
    assert_eq!(result, "t8");
}

/// The injection of issue 14 stops at the `)` with no `(`: column 10.
#[test]
fn injection_is_an_error_with_its_column() {
    let e = error("a-u+u*u*v); loop {} return (1000.0", &["u", "v", "a", "b"]);
    assert_eq!(e.column, 10, "{e}");
    assert!(e.message.contains("no matching `(`"), "{e}");
    let e = error("u; fn f() {}", &["u"]);
    assert_eq!(e.column, 2, "{e}");
    assert!(e.message.contains("unexpected character `;`"), "{e}");
    let e = error("u @group(0)", &["u"]);
    assert_eq!(e.column, 3, "{e}");
}

#[test]
fn errors_carry_columns() {
    let v = ["u", "v"];
    let e = error("u * * 2.0", &v);
    assert_eq!((e.column, e.message.contains("`*`")), (5, true), "{e}");
    let e = error("u + w", &v);
    assert_eq!(e.column, 5, "{e}");
    assert!(
        e.message.contains("unknown name `w`") && e.message.contains("`v`"),
        "{e}"
    );
    let e = error("foo(u)", &v);
    assert!(
        e.column == 1 && e.message.contains("not a known function"),
        "{e}"
    );
    let e = error("pow(u)", &v);
    assert!(e.message.contains("`pow` takes 2 arguments, got 1"), "{e}");
    let e = error("exp + 1", &v);
    assert!(e.message.contains("is a function"), "{e}");
    let e = error("u ^ 2", &v);
    assert_eq!(e.column, 3, "{e}");
    assert!(e.message.contains("pow(x, y)"), "{e}");
    let e = error("(u + v", &v);
    assert_eq!(e.column, 7, "{e}");
    assert!(e.message.contains("close the `(` at column 1"), "{e}");
    let e = error("", &v);
    assert!(e.message.contains("empty"), "{e}");
    let e = error("u +", &v);
    assert_eq!(e.column, 4, "{e}");
    let e = error("2u", &v);
    assert_eq!(e.column, 2, "{e}");
    let e = error("1e39", &v);
    assert!(e.message.contains("too large"), "{e}");
    let e = error("u < v < 1", &v);
    assert!(e.column == 7 && e.message.contains("chained"), "{e}");
    let e = error("u \u{b7} v", &v);
    assert!(
        e.column == 3 && e.message.contains("unexpected character `\u{b7}`"),
        "{e}"
    );
}

#[test]
fn types_are_checked() {
    let v = ["u"];
    let e = error("u > 1", &v);
    assert!(e.message.contains("truth value, not a number"), "{e}");
    let e = error("select(0, 1, u)", &v);
    assert!(
        e.message
            .contains("argument 3 of `select` needs a truth value"),
        "{e}"
    );
    let e = error("(u > 1) + 1", &v);
    assert!(
        e.column == 1 && e.message.contains("`+` needs a number"),
        "{e}"
    );
    let e = error("!u", &v);
    assert!(e.message.contains("`!` needs a truth value"), "{e}");
}

#[test]
fn constants_that_are_not_finite_are_refused() {
    let e = error("u + 1 / 0", &["u"]);
    assert_eq!(e.column, 7, "{e}");
    assert!(e.message.contains("inf"), "{e}");
    let e = error("u * exp(100)", &["u"]);
    assert_eq!(e.column, 5, "{e}");
    // Not constant: decided at run time, as on the GPU.
    assert!(eval("1 / u", &["u"], &[0.0]).is_infinite());
}

#[test]
fn limits_are_checked_before_parsing() {
    let long = vec!["u"; 15_000].join(" + ");
    let t = std::time::Instant::now();
    let e = error(&long, &["u"]);
    assert!(t.elapsed().as_secs_f64() < 1.0);
    assert!(
        e.message.contains("15000 terms") && e.message.contains("10000"),
        "{e}"
    );
    let e = error(&" ".repeat(MAX_CHARS + 1), &[]);
    assert!(e.message.contains("200000"), "{e}");
    let deep = format!("{}u{}", "(".repeat(65), ")".repeat(65));
    let e = error(&deep, &["u"]);
    assert_eq!(e.column, 65, "{e}");
    assert!(e.message.contains("64"), "{e}");
    let e = error(&format!("{}u", "-".repeat(100)), &["u"]);
    assert!(e.message.contains("deeper than 64"), "{e}");
    // At the limits: accepted.
    let ok = format!("{}u{}", "(".repeat(63), ")".repeat(63));
    assert_eq!(eval(&ok, &["u"], &[2.0]), 2.0);
}

/// The largest expression prints as flat statements naga parses on a
/// test thread's small stack, and evaluates in left-to-right order.
#[test]
fn the_largest_expression_stays_flat() {
    let text = vec!["a0"; MAX_TERMS].join(" + ");
    let e = Expr::parse(&text, &names(&["a0"])).unwrap();
    assert_eq!(e.eval(&[1.0], &mut Vec::new()), MAX_TERMS as f32);
    crate::core::shaders::validate("expr", &wgsl_module(&e)).unwrap();
}
