//! Tokeniser and recursive-descent parser for user expressions. The
//! tokeniser is a loop: it enforces the size limits (characters, terms,
//! parenthesis depth) before the parser, which recurses, runs. The parser
//! builds the arena bottom-up, checking types and folding nothing: a node
//! whose operands are all constants is evaluated only to refuse a constant
//! that is not a finite f32 (e.g. `1/0`, `exp(100)`), which WGSL compilers
//! reject when they fold it.

use super::{BinOp, Expr, ExprError, FUNCS, MAX_CHARS, MAX_DEPTH, MAX_TERMS, Node, Ty};

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    Num(f32),
    Ident(&'a str),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
    /// Text that is no token: the tokeniser stops here, and the error is
    /// reported unless the parser fails earlier in the text.
    Bad(String),
    End,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Num(x) => format!("the number {x}"),
        Tok::Ident(s) => format!("`{s}`"),
        Tok::Op(o) => format!("`{o}`"),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::Comma => "`,`".into(),
        Tok::Bad(m) => m.clone(),
        Tok::End => "the end of the expression".into(),
    }
}

fn err<T>(column: usize, message: impl Into<String>) -> Result<T, ExprError> {
    Err(ExprError {
        column,
        message: message.into(),
    })
}

/// Tokens with their 1-based columns, after the size limits.
fn tokenise(text: &str) -> Result<Vec<(Tok<'_>, usize)>, ExprError> {
    if text.len() > MAX_CHARS {
        return err(
            1,
            format!(
                "the expression is {} characters long; the limit is {MAX_CHARS}",
                text.len()
            ),
        );
    }
    let b = text.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut terms, mut depth) = (0usize, 0usize, 0usize);
    while i < b.len() {
        let c = b[i];
        // Every byte before `i` is ASCII (anything else stops here), so
        // the column in characters is the byte offset + 1.
        let col = i + 1;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(|d| d.is_ascii_digit())) {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i < b.len() && b[i] == b'.' {
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            }
            if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
                let mut j = i + 1;
                if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    while j < b.len() && b[j].is_ascii_digit() {
                        j += 1;
                    }
                    i = j;
                }
            }
            let lit = &text[start..i];
            if i < b.len() && b[i] == b'f' {
                i += 1; // WGSL's f32 suffix
            }
            if i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.') {
                let m = format!("unexpected `{}` after the number {lit}", b[i] as char);
                out.push((Tok::Bad(m), i + 1));
                break;
            }
            let x = match lit.parse::<f32>() {
                Ok(x) if x.is_finite() => x,
                Ok(_) => {
                    out.push((Tok::Bad(format!("{lit} is too large for an f32")), col));
                    break;
                }
                Err(_) => {
                    out.push((Tok::Bad(format!("`{lit}` is not a number")), col));
                    break;
                }
            };
            terms += 1;
            out.push((Tok::Num(x), col));
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            terms += 1;
            out.push((Tok::Ident(&text[start..i]), col));
            continue;
        }
        let two = b.get(i + 1).copied();
        let (tok, len) = match (c, two) {
            (b'<', Some(b'=')) => (Tok::Op("<="), 2),
            (b'>', Some(b'=')) => (Tok::Op(">="), 2),
            (b'=', Some(b'=')) => (Tok::Op("=="), 2),
            (b'!', Some(b'=')) => (Tok::Op("!="), 2),
            (b'&', Some(b'&')) => (Tok::Op("&&"), 2),
            (b'|', Some(b'|')) => (Tok::Op("||"), 2),
            (b'+', _) => (Tok::Op("+"), 1),
            (b'-', _) => (Tok::Op("-"), 1),
            (b'*', _) => (Tok::Op("*"), 1),
            (b'/', _) => (Tok::Op("/"), 1),
            (b'%', _) => (Tok::Op("%"), 1),
            (b'<', _) => (Tok::Op("<"), 1),
            (b'>', _) => (Tok::Op(">"), 1),
            (b'!', _) => (Tok::Op("!"), 1),
            (b',', _) => (Tok::Comma, 1),
            (b'(', _) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return err(
                        col,
                        format!("parentheses nest deeper than {MAX_DEPTH} levels"),
                    );
                }
                (Tok::LParen, 1)
            }
            (b')', _) => {
                depth = depth.saturating_sub(1);
                (Tok::RParen, 1)
            }
            (b'^', _) => (
                Tok::Bad("`^` is not an operator here; write pow(x, y)".into()),
                0,
            ),
            (b'=', _) => (
                Tok::Bad("`=` is not an operator; comparisons use `==`".into()),
                0,
            ),
            _ => {
                let ch = text[i..].chars().next().unwrap_or('?');
                (
                    Tok::Bad(format!(
                        "unexpected character `{ch}`: an expression holds numbers, names, \
                         operators, parentheses and commas"
                    )),
                    0,
                )
            }
        };
        if len == 0 {
            out.push((tok, col));
            break;
        }
        out.push((tok, col));
        i += len;
    }
    if terms > MAX_TERMS {
        return err(
            1,
            format!(
                "the expression has {terms} terms (numbers and names); the limit is {MAX_TERMS}"
            ),
        );
    }
    let end = out.last().map_or(1, |(t, c)| match t {
        Tok::Bad(_) => *c,
        _ => text.len() + 1,
    });
    out.push((Tok::End, end));
    Ok(out)
}

struct Parser<'a, 'v> {
    toks: Vec<(Tok<'a>, usize)>,
    pos: usize,
    depth: usize,
    vars: &'v [String],
    nodes: Vec<Node>,
    types: Vec<Ty>,
    /// The value of each node whose operands are all constant.
    konst: Vec<Option<f32>>,
}

pub(super) fn parse(text: &str, vars: &[String]) -> Result<Expr, ExprError> {
    let toks = tokenise(text)?;
    if toks.len() == 1 {
        return err(1, "the expression is empty");
    }
    // The first error in the text wins: a parse error before the bad
    // text, or the bad text itself.
    let bad = toks.iter().find_map(|(t, c)| match t {
        Tok::Bad(m) => Some(ExprError {
            column: *c,
            message: m.clone(),
        }),
        _ => None,
    });
    match (parse_tokens(toks, vars), bad) {
        (Err(e), Some(b)) if e.column >= b.column => Err(b),
        (Ok(_), Some(b)) => Err(b),
        (r, _) => r,
    }
}

fn parse_tokens(toks: Vec<(Tok<'_>, usize)>, vars: &[String]) -> Result<Expr, ExprError> {
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
        vars,
        nodes: Vec::new(),
        types: Vec::new(),
        konst: Vec::new(),
    };
    let (root, col) = p.or()?;
    let (t, c) = p.peek();
    match t {
        Tok::End => {}
        Tok::RParen => return err(c, "`)` has no matching `(`"),
        other => {
            return err(
                c,
                format!(
                    "expected an operator or the end of the expression, found {}",
                    describe(&other)
                ),
            );
        }
    }
    if p.types[root] != Ty::F32 {
        return err(
            col,
            "the expression gives a truth value, not a number; use select(a, b, condition)",
        );
    }
    debug_assert_eq!(root + 1, p.nodes.len());
    Ok(Expr {
        nodes: p.nodes,
        types: p.types,
    })
}

type Res = Result<(usize, usize), ExprError>;

impl<'a> Parser<'a, '_> {
    fn peek(&self) -> (Tok<'a>, usize) {
        self.toks[self.pos].clone()
    }

    fn bump(&mut self) -> (Tok<'a>, usize) {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn enter(&mut self, col: usize) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err(
                col,
                format!("the expression nests deeper than {MAX_DEPTH} levels"),
            );
        }
        Ok(())
    }

    /// Appends a node of type `ty`; refuses a constant that is not a
    /// finite f32. Returns its index.
    fn push(&mut self, node: Node, ty: Ty, col: usize) -> Result<usize, ExprError> {
        let operands: Vec<usize> = match node {
            Node::Num(_) | Node::Bool(_) | Node::Var(_) => vec![],
            Node::Neg(a) | Node::Not(a) => vec![a],
            Node::Bin(_, a, b) => vec![a, b],
            Node::Call(f, args) => args[..f.signature().0.len()].to_vec(),
        };
        let k = match node {
            Node::Num(x) => Some(x),
            Node::Bool(b) => Some(b as u32 as f32),
            Node::Var(_) => None,
            _ if operands.iter().all(|&o| self.konst[o].is_some()) => {
                let g = |i: usize| self.konst[i].unwrap_or(0.0);
                Some(match node {
                    Node::Neg(a) => -g(a),
                    Node::Not(a) => (g(a) == 0.0) as u32 as f32,
                    Node::Bin(op, a, b) => super::bin(op, g(a), g(b)),
                    Node::Call(f, [a, b, c]) => f.apply(g(a), g(b), g(c)),
                    _ => 0.0,
                })
            }
            _ => None,
        };
        if let Some(v) = k
            && ty == Ty::F32
            && !v.is_finite()
        {
            return err(
                col,
                format!(
                    "this part is a constant that evaluates to {v} in f32, not a finite number"
                ),
            );
        }
        self.nodes.push(node);
        self.types.push(ty);
        self.konst.push(k);
        Ok(self.nodes.len() - 1)
    }

    fn want(&self, (node, col): (usize, usize), ty: Ty, what: &str) -> Result<usize, ExprError> {
        if self.types[node] != ty {
            return err(
                col,
                format!(
                    "{what} needs {}, but this is {}",
                    ty.name(),
                    self.types[node].name()
                ),
            );
        }
        Ok(node)
    }

    fn or(&mut self) -> Res {
        let mut l = self.and()?;
        while let (Tok::Op("||"), col) = self.peek() {
            self.bump();
            let r = self.and()?;
            let a = self.want(l, Ty::Bool, "`||`")?;
            let b = self.want(r, Ty::Bool, "`||`")?;
            l = (self.push(Node::Bin(BinOp::Or, a, b), Ty::Bool, col)?, l.1);
        }
        Ok(l)
    }

    fn and(&mut self) -> Res {
        let mut l = self.cmp()?;
        while let (Tok::Op("&&"), col) = self.peek() {
            self.bump();
            let r = self.cmp()?;
            let a = self.want(l, Ty::Bool, "`&&`")?;
            let b = self.want(r, Ty::Bool, "`&&`")?;
            l = (self.push(Node::Bin(BinOp::And, a, b), Ty::Bool, col)?, l.1);
        }
        Ok(l)
    }

    fn cmp_op(t: &Tok) -> Option<BinOp> {
        Some(match t {
            Tok::Op("<") => BinOp::Lt,
            Tok::Op("<=") => BinOp::Le,
            Tok::Op(">") => BinOp::Gt,
            Tok::Op(">=") => BinOp::Ge,
            Tok::Op("==") => BinOp::Eq,
            Tok::Op("!=") => BinOp::Ne,
            _ => return None,
        })
    }

    fn cmp(&mut self) -> Res {
        let l = self.add()?;
        let (t, col) = self.peek();
        let Some(op) = Self::cmp_op(&t) else {
            return Ok(l);
        };
        self.bump();
        let r = self.add()?;
        let (a, b) = if matches!(op, BinOp::Eq | BinOp::Ne) && self.types[l.0] == Ty::Bool {
            (
                l.0,
                self.want(r, Ty::Bool, "`==`/`!=` between truth values")?,
            )
        } else {
            let what = format!("`{}`", op.wgsl());
            (self.want(l, Ty::F32, &what)?, self.want(r, Ty::F32, &what)?)
        };
        let node = self.push(Node::Bin(op, a, b), Ty::Bool, col)?;
        let (t2, col2) = self.peek();
        if Self::cmp_op(&t2).is_some() {
            return err(col2, "comparisons cannot be chained; join them with `&&`");
        }
        Ok((node, l.1))
    }

    fn arith(&mut self, l: (usize, usize), op: BinOp, r: (usize, usize), col: usize) -> Res {
        let what = format!("`{}`", op.wgsl());
        let a = self.want(l, Ty::F32, &what)?;
        let b = self.want(r, Ty::F32, &what)?;
        Ok((self.push(Node::Bin(op, a, b), Ty::F32, col)?, l.1))
    }

    fn add(&mut self) -> Res {
        let mut l = self.mul()?;
        loop {
            let (op, col) = match self.peek() {
                (Tok::Op("+"), c) => (BinOp::Add, c),
                (Tok::Op("-"), c) => (BinOp::Sub, c),
                _ => return Ok(l),
            };
            self.bump();
            let r = self.mul()?;
            l = self.arith(l, op, r, col)?;
        }
    }

    fn mul(&mut self) -> Res {
        let mut l = self.unary()?;
        loop {
            let (op, col) = match self.peek() {
                (Tok::Op("*"), c) => (BinOp::Mul, c),
                (Tok::Op("/"), c) => (BinOp::Div, c),
                (Tok::Op("%"), c) => (BinOp::Rem, c),
                _ => return Ok(l),
            };
            self.bump();
            let r = self.unary()?;
            l = self.arith(l, op, r, col)?;
        }
    }

    fn unary(&mut self) -> Res {
        match self.peek() {
            (Tok::Op("-"), col) => {
                self.bump();
                self.enter(col)?;
                let a = self.unary()?;
                self.depth -= 1;
                let a = self.want(a, Ty::F32, "`-`")?;
                Ok((self.push(Node::Neg(a), Ty::F32, col)?, col))
            }
            (Tok::Op("!"), col) => {
                self.bump();
                self.enter(col)?;
                let a = self.unary()?;
                self.depth -= 1;
                let a = self.want(a, Ty::Bool, "`!`")?;
                Ok((self.push(Node::Not(a), Ty::Bool, col)?, col))
            }
            _ => self.primary(),
        }
    }

    fn primary(&mut self) -> Res {
        let (t, col) = self.bump();
        match t {
            Tok::Num(x) => Ok((self.push(Node::Num(x), Ty::F32, col)?, col)),
            Tok::Ident("true") => Ok((self.push(Node::Bool(true), Ty::Bool, col)?, col)),
            Tok::Ident("false") => Ok((self.push(Node::Bool(false), Ty::Bool, col)?, col)),
            Tok::Ident(name) => {
                if let (Tok::LParen, _) = self.peek() {
                    return self.call(name, col);
                }
                if let Some(i) = self.vars.iter().position(|v| v == name) {
                    return Ok((self.push(Node::Var(i), Ty::F32, col)?, col));
                }
                if FUNCS.iter().any(|(n, _)| *n == name) {
                    return err(col, format!("`{name}` is a function: write {name}(…)"));
                }
                err(
                    col,
                    format!("unknown name `{name}`; the names here are {}", self.names()),
                )
            }
            Tok::LParen => {
                self.enter(col)?;
                let inner = self.or()?;
                self.depth -= 1;
                match self.bump() {
                    (Tok::RParen, _) => Ok((inner.0, col)),
                    (other, c) => err(
                        c,
                        format!(
                            "expected `)` to close the `(` at column {col}, found {}",
                            describe(&other)
                        ),
                    ),
                }
            }
            Tok::End => err(col, "the expression ends where a value should follow"),
            other => err(
                col,
                format!(
                    "expected a number, a name or `(`, found {}",
                    describe(&other)
                ),
            ),
        }
    }

    fn names(&self) -> String {
        if self.vars.is_empty() {
            return "none".into();
        }
        let shown: Vec<String> = self
            .vars
            .iter()
            .take(20)
            .map(|v| format!("`{v}`"))
            .collect();
        let more = if self.vars.len() > 20 { ", …" } else { "" };
        format!("{}{more}", shown.join(", "))
    }

    fn call(&mut self, name: &str, col: usize) -> Res {
        let Some(&(_, f)) = FUNCS.iter().find(|(n, _)| *n == name) else {
            let all: Vec<&str> = FUNCS.iter().map(|(n, _)| *n).collect();
            return err(
                col,
                format!(
                    "`{name}` is not a known function; the functions are {}",
                    all.join(", ")
                ),
            );
        };
        self.bump(); // `(`
        self.enter(col)?;
        let mut args: Vec<(usize, usize)> = Vec::new();
        if let (Tok::RParen, _) = self.peek() {
            self.bump();
        } else {
            loop {
                args.push(self.or()?);
                match self.bump() {
                    (Tok::Comma, _) => continue,
                    (Tok::RParen, _) => break,
                    (other, c) => {
                        return err(
                            c,
                            format!(
                                "expected `,` or `)` in the arguments of `{name}`, found {}",
                                describe(&other)
                            ),
                        );
                    }
                }
            }
        }
        self.depth -= 1;
        let (tys, ret) = f.signature();
        if args.len() != tys.len() {
            return err(
                col,
                format!(
                    "`{name}` takes {} argument{}, got {}",
                    tys.len(),
                    if tys.len() == 1 { "" } else { "s" },
                    args.len()
                ),
            );
        }
        let mut ix = [0usize; 3];
        for (k, (a, ty)) in args.iter().zip(tys).enumerate() {
            ix[k] = self.want(*a, *ty, &format!("argument {} of `{name}`", k + 1))?;
        }
        Ok((self.push(Node::Call(f, ix), ret, col)?, col))
    }
}
