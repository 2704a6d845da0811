//! User-defined kinetics: a scene gives one WGSL expression per species
//! over species and parameter names. Each expression is compiled into a
//! small WGSL function and validated with naga when the scene loads, so an
//! error points at the scene key and line. The GPU runs the WGSL; the CPU
//! backend evaluates the *same* naga IR with [`Expr`] (a straight-line
//! interpreter over the expression arena), so both backends share one
//! parser and one meaning. Expressions may use arithmetic, comparisons,
//! `select` and WGSL's scalar math built-ins; anything else is refused at
//! load with a message that names it.
//!
//! Owns: user expressions. Never imports wgpu.

use crate::model::{ModelInfo, ParamInfo};
use crate::shaders;
use naga::{BinaryOperator as B, Expression as E, Literal, MathFunction as M, UnaryOperator as U};

/// A template entry for `vtwin models`.
pub fn custom_info_template() -> ModelInfo {
    ModelInfo {
        kind: "custom".into(),
        description:
            "User-defined reaction terms: WGSL expressions over named species and parameters \
                      (runs on both backends)"
                .into(),
        time_unit: "1".into(),
        length_unit: "1".into(),
        fields: Vec::new(),
        params: Vec::<ParamInfo>::new(),
    }
}

/// True for a WGSL-style identifier that is not reserved by vtwin's kernels.
pub fn valid_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') && !s.starts_with("__")
}

/// The WGSL function computing one species' reaction rate.
pub fn function_source(fname: &str, species: &[String], params: &[String], expr: &str) -> String {
    let args: Vec<String> = species
        .iter()
        .chain(params)
        .map(|n| format!("{n}: f32"))
        .collect();
    format!(
        "fn {fname}({}) -> f32 {{\n    return ({expr});\n}}\n",
        args.join(", ")
    )
}

/// A compiled expression: the naga expression arena of its function,
/// evaluated in order (the arena is topologically sorted).
#[derive(Clone, Debug)]
pub struct Expr {
    ops: Vec<Op>,
    result: usize,
}

#[derive(Clone, Debug)]
enum Op {
    Const(f32),
    ConstBool(bool),
    Arg(usize),
    Neg(usize),
    Not(usize),
    Bin(B, usize, usize),
    Select {
        cond: usize,
        accept: usize,
        reject: usize,
    },
    Math(M, usize, Option<usize>, Option<usize>),
    /// Conversions between scalar kinds are identities here (all values are f32).
    Same(usize),
}

#[derive(Clone, Copy)]
enum Val {
    F(f32),
    B(bool),
}

impl Val {
    fn f(self) -> f32 {
        match self {
            Val::F(x) => x,
            Val::B(b) => b as u32 as f32,
        }
    }
    fn b(self) -> bool {
        match self {
            Val::B(b) => b,
            Val::F(x) => x != 0.0,
        }
    }
}

impl Expr {
    /// Validates `expr` with naga and compiles it. The error is naga's
    /// message (with the column inside the expression when known) or the
    /// name of a construct the CPU interpreter does not support.
    pub fn compile(species: &[String], params: &[String], expr: &str) -> Result<Expr, String> {
        let src = function_source("rate", species, params, expr);
        let (module, _) = shaders::validate("custom", &src).map_err(|e| {
            let col = if e.line == Some(2) {
                e.column.map(|c| c.saturating_sub(12))
            } else {
                None
            };
            match col {
                Some(c) if c > 0 => format!("invalid WGSL expression (column {c}): {}", e.message),
                _ => format!("invalid WGSL expression: {}", e.message),
            }
        })?;
        let (_, func) = module
            .functions
            .iter()
            .find(|(_, f)| f.name.as_deref() == Some("rate"))
            .ok_or_else(|| "internal: compiled expression has no function".to_string())?;
        let mut result = None;
        for st in func.body.iter() {
            if let naga::Statement::Return { value: Some(h) } = st {
                result = Some(h.index());
            }
        }
        let result = result.ok_or_else(|| "the expression must produce a value".to_string())?;
        let mut ops = Vec::with_capacity(func.expressions.len());
        for (_, e) in func.expressions.iter() {
            let op = match e {
                E::Literal(l) => match *l {
                    Literal::F32(x) => Op::Const(x),
                    Literal::F64(x) | Literal::AbstractFloat(x) => Op::Const(x as f32),
                    Literal::I32(x) => Op::Const(x as f32),
                    Literal::U32(x) => Op::Const(x as f32),
                    Literal::AbstractInt(x) => Op::Const(x as f32),
                    Literal::Bool(b) => Op::ConstBool(b),
                    other => return Err(format!("literal {other:?} is not supported")),
                },
                E::FunctionArgument(i) => Op::Arg(*i as usize),
                E::Unary {
                    op: U::Negate,
                    expr,
                } => Op::Neg(expr.index()),
                E::Unary {
                    op: U::LogicalNot,
                    expr,
                } => Op::Not(expr.index()),
                E::Binary { op, left, right } => match op {
                    B::Add
                    | B::Subtract
                    | B::Multiply
                    | B::Divide
                    | B::Modulo
                    | B::Equal
                    | B::NotEqual
                    | B::Less
                    | B::LessEqual
                    | B::Greater
                    | B::GreaterEqual
                    | B::LogicalAnd
                    | B::LogicalOr => Op::Bin(*op, left.index(), right.index()),
                    other => {
                        return Err(format!("operator {other:?} is not supported in kinetics"));
                    }
                },
                E::Select {
                    condition,
                    accept,
                    reject,
                } => Op::Select {
                    cond: condition.index(),
                    accept: accept.index(),
                    reject: reject.index(),
                },
                E::Math {
                    fun,
                    arg,
                    arg1,
                    arg2,
                    ..
                } => {
                    if math1(*fun, 1.0).is_none()
                        && !matches!(
                            fun,
                            M::Min
                                | M::Max
                                | M::Pow
                                | M::Clamp
                                | M::Step
                                | M::Atan2
                                | M::Fma
                                | M::Mix
                        )
                    {
                        return Err(format!("built-in {fun:?} is not supported in kinetics"));
                    }
                    Op::Math(
                        *fun,
                        arg.index(),
                        arg1.map(|h| h.index()),
                        arg2.map(|h| h.index()),
                    )
                }
                E::As { expr, .. } => Op::Same(expr.index()),
                other => {
                    return Err(format!(
                        "{other:?} is not supported in kinetics (scalar expressions only)"
                    ));
                }
            };
            ops.push(op);
        }
        Ok(Expr { ops, result })
    }

    /// Evaluates with `args` = species values then parameter values.
    pub fn eval(&self, args: &[f32], scratch: &mut Vec<f32>) -> f32 {
        // Booleans are carried as 0/1 in the scratch vector.
        scratch.clear();
        for op in &self.ops {
            let g = |i: usize| scratch[i];
            let v = match *op {
                Op::Const(x) => Val::F(x),
                Op::ConstBool(b) => Val::B(b),
                Op::Arg(i) => Val::F(args[i]),
                Op::Neg(a) => Val::F(-g(a)),
                Op::Not(a) => Val::B(g(a) == 0.0),
                Op::Same(a) => Val::F(g(a)),
                Op::Bin(op, a, b) => {
                    let (x, y) = (g(a), g(b));
                    match op {
                        B::Add => Val::F(x + y),
                        B::Subtract => Val::F(x - y),
                        B::Multiply => Val::F(x * y),
                        B::Divide => Val::F(x / y),
                        // WGSL's f32 `%` truncates like Rust's.
                        B::Modulo => Val::F(x % y),
                        B::Equal => Val::B(x == y),
                        B::NotEqual => Val::B(x != y),
                        B::Less => Val::B(x < y),
                        B::LessEqual => Val::B(x <= y),
                        B::Greater => Val::B(x > y),
                        B::GreaterEqual => Val::B(x >= y),
                        B::LogicalAnd => Val::B(Val::F(x).b() && Val::F(y).b()),
                        B::LogicalOr => Val::B(Val::F(x).b() || Val::F(y).b()),
                        _ => Val::F(f32::NAN),
                    }
                }
                Op::Select {
                    cond,
                    accept,
                    reject,
                } => Val::F(if g(cond) != 0.0 { g(accept) } else { g(reject) }),
                Op::Math(fun, a, b, c) => {
                    let x = g(a);
                    let y = b.map(g).unwrap_or(0.0);
                    let z = c.map(g).unwrap_or(0.0);
                    Val::F(match fun {
                        M::Min => x.min(y),
                        M::Max => x.max(y),
                        M::Pow => x.powf(y),
                        M::Clamp => x.max(y).min(z),
                        M::Step => (x <= y) as u32 as f32,
                        M::Atan2 => x.atan2(y),
                        M::Fma => x.mul_add(y, z),
                        M::Mix => x * (1.0 - z) + y * z,
                        f => math1(f, x).unwrap_or(f32::NAN),
                    })
                }
            };
            scratch.push(v.f());
        }
        scratch[self.result]
    }
}

fn math1(f: M, x: f32) -> Option<f32> {
    Some(match f {
        M::Abs => x.abs(),
        M::Exp => x.exp(),
        M::Exp2 => x.exp2(),
        M::Log => x.ln(),
        M::Log2 => x.log2(),
        M::Sqrt => x.sqrt(),
        M::InverseSqrt => 1.0 / x.sqrt(),
        M::Sin => x.sin(),
        M::Cos => x.cos(),
        M::Tan => x.tan(),
        M::Tanh => x.tanh(),
        M::Sinh => x.sinh(),
        M::Cosh => x.cosh(),
        M::Asin => x.asin(),
        M::Acos => x.acos(),
        M::Atan => x.atan(),
        M::Floor => x.floor(),
        M::Ceil => x.ceil(),
        M::Round => x.round_ties_even(),
        M::Fract => x - x.floor(),
        M::Trunc => x.trunc(),
        M::Sign => {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }
        }
        M::Saturate => x.clamp(0.0, 1.0),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn schnakenberg_evaluates_like_rust() {
        let sp = names(&["u", "v"]);
        let pa = names(&["a", "b"]);
        let fu = Expr::compile(&sp, &pa, "a - u + u * u * v").unwrap();
        let fv = Expr::compile(&sp, &pa, "b - u * u * v").unwrap();
        let mut s = Vec::new();
        let (u, v, a, b) = (0.7f32, 1.3f32, 0.1f32, 0.9f32);
        assert_eq!(fu.eval(&[u, v, a, b], &mut s), a - u + u * u * v);
        assert_eq!(fv.eval(&[u, v, a, b], &mut s), b - u * u * v);
    }

    #[test]
    fn builtins_and_select() {
        let sp = names(&["u"]);
        let e = Expr::compile(
            &sp,
            &[],
            "select(0.0, exp(-u) * max(u, 0.5), u > 0.25) + pow(u, 2.0)",
        )
        .unwrap();
        let mut s = Vec::new();
        let u = 0.3f32;
        assert!((e.eval(&[u], &mut s) - ((-u).exp() * 0.5 + u * u)).abs() < 1e-6);
        assert!((e.eval(&[0.1], &mut s) - 0.01).abs() < 1e-7);
    }

    #[test]
    fn errors_are_reported() {
        let sp = names(&["u"]);
        let e = Expr::compile(&sp, &[], "u * * 2.0").unwrap_err();
        assert!(e.contains("invalid WGSL expression"), "{e}");
        let e = Expr::compile(&sp, &[], "w + 1.0").unwrap_err();
        assert!(e.contains("invalid WGSL expression"), "{e}");
        let e = Expr::compile(&sp, &[], "vec2<f32>(u, u).x").unwrap_err();
        assert!(e.contains("not supported"), "{e}");
    }
}
