//! The condition language of rules and skip logic.
//!
//! Small on purpose: a hospital editor must be able to read every rule, and we must be able to
//! check every rule at load time. Grammar (keywords lower-case):
//!
//! ```text
//! expr     := and ("or" and)*
//! and      := unary ("and" unary)*
//! unary    := "not" unary | atom
//! atom     := "(" expr ")" | "answered" "(" ID ")" | operand [cmp literal | "in" "[" STR ("," STR)* "]"]
//! operand  := ID | ID "." ("systolic" | "diastolic") | "sum" "(" ID ("," ID)* ")"
//!           | ("rise" | "fall") "(" MEASUREMENT "," DURATION ")"
//!           | "lab" "(" LAB ["," DURATION] ")"
//! cmp      := "==" | "!=" | "<" | "<=" | ">" | ">="
//! literal  := NUMBER | "true" | "false" | 'STR' | "STR" | [NUMBER "*"] "baseline"
//! DURATION := NUMBER ("d" | "h")          e.g. 3d, 24h
//! ```
//!
//! A bare yes/no question (`breathless_at_rest`) means `breathless_at_rest == true`.
//! `rise(weight_kg, 3d)` is today's value minus the lowest value of that series in the previous
//! 3 days (heart-failure weight gain); `fall` is the highest value minus today's.
//!
//! `lab(k)` is the patient's latest final (or corrected) result of that lab observed within
//! the window (default [`DEFAULT_LAB_WINDOW_DAYS`] days), in the lab catalogue's unit; `baseline`
//! (only on the right of a `lab()` comparison) is that lab's baseline, defined in
//! `followup::rules` (the first final result at or after the discharge other than the one
//! judged, else the latest before the discharge). A rule reading `lab()` reads nothing else:
//! it is evaluated when a result arrives, not while a nurse saves answers.

use chrono::Duration;

use super::{MeasurementKind, OptionId, Question, QuestionId, QuestionKind};
use crate::followup::lab::LabName;

/// The window of `lab(NAME)` when the rule states none: results older than this are not read.
pub const DEFAULT_LAB_WINDOW_DAYS: i64 = 30;

/// Comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// Applies the operator to two numbers.
    pub fn test(self, a: f64, b: f64) -> bool {
        match self {
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
        }
    }
}

/// Left-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// The answer to a question (a scored choice counts as its score in numeric comparisons).
    Answer(QuestionId),
    /// Systolic value of a blood-pressure question.
    Systolic(QuestionId),
    /// Diastolic value of a blood-pressure question.
    Diastolic(QuestionId),
    /// Sum of numeric answers (PHQ totals).
    Sum(Vec<QuestionId>),
    /// Today's value minus the lowest of the series within the window.
    Rise(MeasurementKind, Duration),
    /// Highest of the series within the window minus today's value.
    Fall(MeasurementKind, Duration),
    /// Latest final result of a lab observed within the window.
    Lab(LabName, Duration),
}

/// Right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `true` / `false`.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A choice option id.
    Option(OptionId),
    /// `F * baseline`: the factor times the baseline of the `lab()` on the left.
    Baseline(f64),
}

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// All hold.
    And(Vec<Expr>),
    /// Any holds.
    Or(Vec<Expr>),
    /// Does not hold.
    Not(Box<Expr>),
    /// `operand op literal`.
    Cmp(Operand, CmpOp, Literal),
    /// Choice answer is one of the options.
    In(QuestionId, Vec<OptionId>),
    /// Yes/no question answered yes.
    Yes(QuestionId),
    /// Question has an answer.
    Answered(QuestionId),
}

impl Expr {
    /// Question ids the condition reads, in order of appearance, for the evidence text.
    pub fn questions(&self) -> Vec<QuestionId> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect(&self, out: &mut Vec<QuestionId>) {
        let mut push = |q: &QuestionId| {
            if !out.contains(q) {
                out.push(q.clone());
            }
        };
        match self {
            Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| e.collect(out)),
            Expr::Not(e) => e.collect(out),
            Expr::Cmp(op, _, _) => match op {
                Operand::Answer(q) | Operand::Systolic(q) | Operand::Diastolic(q) => push(q),
                Operand::Sum(qs) => qs.iter().for_each(push),
                Operand::Rise(..) | Operand::Fall(..) | Operand::Lab(..) => {}
            },
            Expr::In(q, _) | Expr::Yes(q) | Expr::Answered(q) => push(q),
        }
    }

    /// Labs the condition reads (`lab(NAME)`), without repeats.
    pub fn labs(&self) -> Vec<LabName> {
        let mut out: Vec<LabName> = Vec::new();
        let mut found = Vec::new();
        self.collect_labs(&mut found);
        for l in found {
            if !out.contains(&l) {
                out.push(l);
            }
        }
        out
    }

    fn collect_labs(&self, out: &mut Vec<LabName>) {
        match self {
            Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| e.collect_labs(out)),
            Expr::Not(e) => e.collect_labs(out),
            Expr::Cmp(Operand::Lab(l, _), _, _) => out.push(l.clone()),
            _ => {}
        }
    }

    /// Measurement series the condition reads (`rise`/`fall`).
    pub fn measurements(&self) -> Vec<MeasurementKind> {
        match self {
            Expr::And(v) | Expr::Or(v) => v.iter().flat_map(Expr::measurements).collect(),
            Expr::Not(e) => e.measurements(),
            Expr::Cmp(Operand::Rise(k, _) | Operand::Fall(k, _), _, _) => vec![*k],
            _ => Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Id(String),
    Num(f64),
    Dur(Duration),
    Str(String),
    Op(CmpOp),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Star,
}

fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let two = |n: char| chars.get(i + 1) == Some(&n);
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' | ')' | '[' | ']' | ',' | '.' | '*' => {
                out.push(match c {
                    '*' => Tok::Star,
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    '[' => Tok::LBracket,
                    ']' => Tok::RBracket,
                    ',' => Tok::Comma,
                    _ => Tok::Dot,
                });
                i += 1;
            }
            '=' | '!' | '<' | '>' => {
                let (op, len) = match (c, two('=')) {
                    ('=', true) => (CmpOp::Eq, 2),
                    ('!', true) => (CmpOp::Ne, 2),
                    ('<', true) => (CmpOp::Le, 2),
                    ('>', true) => (CmpOp::Ge, 2),
                    ('<', false) => (CmpOp::Lt, 1),
                    ('>', false) => (CmpOp::Gt, 1),
                    _ => return Err(format!("`{c}` at column {}: use == or != ", i + 1)),
                };
                out.push(Tok::Op(op));
                i += len;
            }
            '\'' | '"' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&x| x == c)
                    .ok_or_else(|| format!("unclosed quote at column {}", i + 1))?;
                out.push(Tok::Str(chars[i + 1..i + 1 + end].iter().collect()));
                i += end + 2;
            }
            '-' | '0'..='9' => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                let n: f64 = text
                    .parse()
                    .map_err(|_| format!("`{text}` at column {} is not a number", start + 1))?;
                let unit = chars.get(i).copied();
                let next_is_word = chars.get(i + 1).is_some_and(|c| c.is_alphanumeric());
                match unit {
                    Some(u @ ('d' | 'h')) if !next_is_word => {
                        let hours = if u == 'd' { n * 24.0 } else { n };
                        if hours <= 0.0 || hours.fract() != 0.0 {
                            return Err(format!("window `{text}{u}` must be a whole positive number of hours or days"));
                        }
                        out.push(Tok::Dur(Duration::hours(hours as i64)));
                        i += 1;
                    }
                    _ => out.push(Tok::Num(n)),
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push(Tok::Id(chars[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected `{other}` at column {}", i + 1)),
        }
    }
    Ok(out)
}

/// Deepest nesting of parentheses and `not` a condition may have. Real rules nest two or three
/// levels; the parser and the evaluator recurse once per level, so without a bound a draft
/// sent to `POST /scripts/validate` as 100 000 `(` would overflow the stack and take the whole
/// server (every live call) down with it.
pub const MAX_DEPTH: usize = 64;

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    /// Current nesting (parentheses and `not`), bounded by [`MAX_DEPTH`].
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn peek_id(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Id(w)) if w == word)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn expect(&mut self, t: Tok, what: &str) -> Result<(), String> {
        match self.next() {
            Some(ref got) if *got == t => Ok(()),
            Some(got) => Err(format!("expected {what}, found {}", show(&got))),
            None => Err(format!("expected {what}, found end of condition")),
        }
    }
    fn ident(&mut self, what: &str) -> Result<String, String> {
        match self.next() {
            Some(Tok::Id(s)) if !is_keyword(&s) => Ok(s),
            Some(got) => Err(format!("expected {what}, found {}", show(&got))),
            None => Err(format!("expected {what}, found end of condition")),
        }
    }
    fn or(&mut self) -> Result<Expr, String> {
        let mut v = vec![self.and()?];
        while self.peek_id("or") {
            self.pos += 1;
            v.push(self.and()?);
        }
        Ok(if v.len() == 1 {
            v.remove(0)
        } else {
            Expr::Or(v)
        })
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut v = vec![self.unary()?];
        while self.peek_id("and") {
            self.pos += 1;
            v.push(self.unary()?);
        }
        Ok(if v.len() == 1 {
            v.remove(0)
        } else {
            Expr::And(v)
        })
    }
    /// Runs `inner` one nesting level deeper, refusing past [`MAX_DEPTH`].
    fn nested<T>(
        &mut self,
        inner: impl FnOnce(&mut Self) -> Result<T, String>,
    ) -> Result<T, String> {
        if self.depth >= MAX_DEPTH {
            return Err(format!(
                "condition nests deeper than {MAX_DEPTH} levels of parentheses or `not`"
            ));
        }
        self.depth += 1;
        let result = inner(self);
        self.depth -= 1;
        result
    }
    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek_id("not") {
            self.pos += 1;
            return self.nested(|p| Ok(Expr::Not(Box::new(p.unary()?))));
        }
        self.atom()
    }
    fn call_follows(&self) -> bool {
        self.toks.get(self.pos + 1) == Some(&Tok::LParen)
    }
    fn atom(&mut self) -> Result<Expr, String> {
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let e = self.nested(Self::or)?;
            self.expect(Tok::RParen, "`)`")?;
            return Ok(e);
        }
        if self.peek_id("answered") && self.call_follows() {
            self.pos += 2;
            let q = self.ident("a question id")?;
            self.expect(Tok::RParen, "`)`")?;
            return Ok(Expr::Answered(QuestionId(q)));
        }
        let operand = self.operand()?;
        match self.peek() {
            Some(Tok::Op(op)) => {
                let op = *op;
                self.pos += 1;
                let lit = match self.next() {
                    Some(Tok::Num(n)) if self.peek() == Some(&Tok::Star) => {
                        self.pos += 1;
                        match self.next() {
                            Some(Tok::Id(w)) if w == "baseline" => Literal::Baseline(n),
                            _ => return Err(format!("`{n} *` must be followed by `baseline`")),
                        }
                    }
                    Some(Tok::Num(n)) => Literal::Number(n),
                    Some(Tok::Id(w)) if w == "baseline" => Literal::Baseline(1.0),
                    Some(Tok::Str(s)) => Literal::Option(OptionId(s)),
                    Some(Tok::Id(w)) if w == "true" => Literal::Bool(true),
                    Some(Tok::Id(w)) if w == "false" => Literal::Bool(false),
                    Some(t) => return Err(format!("expected a value, found {}", show(&t))),
                    None => return Err("expected a value, found end of condition".into()),
                };
                Ok(Expr::Cmp(operand, op, lit))
            }
            Some(Tok::Id(w)) if w == "in" => {
                self.pos += 1;
                let Operand::Answer(q) = operand else {
                    return Err("`in [...]` needs a choice question on its left".into());
                };
                self.expect(Tok::LBracket, "`[`")?;
                let mut opts = Vec::new();
                loop {
                    match self.next() {
                        Some(Tok::Str(s)) => opts.push(OptionId(s)),
                        Some(t) => {
                            return Err(format!("expected a quoted option id, found {}", show(&t)))
                        }
                        None => return Err("expected a quoted option id".into()),
                    }
                    match self.next() {
                        Some(Tok::Comma) => continue,
                        Some(Tok::RBracket) => break,
                        _ => return Err("expected `,` or `]` in option list".into()),
                    }
                }
                Ok(Expr::In(q, opts))
            }
            _ => match operand {
                Operand::Answer(q) => Ok(Expr::Yes(q)),
                _ => Err("expected a comparison (==, !=, <, <=, >, >=) after the value".into()),
            },
        }
    }
    fn operand(&mut self) -> Result<Operand, String> {
        if self.peek_id("sum") && self.call_follows() {
            self.pos += 2;
            let mut qs = vec![QuestionId(self.ident("a question id")?)];
            while self.peek() == Some(&Tok::Comma) {
                self.pos += 1;
                qs.push(QuestionId(self.ident("a question id")?));
            }
            self.expect(Tok::RParen, "`)`")?;
            return Ok(Operand::Sum(qs));
        }
        for (word, rise) in [("rise", true), ("fall", false)] {
            if self.peek_id(word) && self.call_follows() {
                self.pos += 2;
                let name = self.ident("a measurement name")?;
                let kind = MeasurementKind::parse(&name).ok_or_else(|| {
                    let all: Vec<_> = MeasurementKind::ALL.iter().map(|k| k.as_str()).collect();
                    format!("unknown measurement `{name}`; known: {}", all.join(", "))
                })?;
                self.expect(Tok::Comma, "`,`")?;
                let window = match self.next() {
                    Some(Tok::Dur(d)) => d,
                    _ => return Err("expected a window such as 3d or 24h".into()),
                };
                self.expect(Tok::RParen, "`)`")?;
                return Ok(if rise {
                    Operand::Rise(kind, window)
                } else {
                    Operand::Fall(kind, window)
                });
            }
        }
        if self.peek_id("lab") && self.call_follows() {
            self.pos += 2;
            let name = self.ident("a lab name")?;
            if !LabName::is_valid(&name) {
                return Err(format!(
                    "`{name}` is not a lab name (lower-case, digits, _)"
                ));
            }
            let window = if self.peek() == Some(&Tok::Comma) {
                self.pos += 1;
                match self.next() {
                    Some(Tok::Dur(d)) => d,
                    _ => return Err("expected a window such as 30d or 48h".into()),
                }
            } else {
                Duration::days(DEFAULT_LAB_WINDOW_DAYS)
            };
            self.expect(Tok::RParen, "`)`")?;
            return Ok(Operand::Lab(LabName(name), window));
        }
        let q = QuestionId(self.ident("a question id")?);
        if self.peek() == Some(&Tok::Dot) {
            self.pos += 1;
            return match self.ident("`systolic` or `diastolic`")?.as_str() {
                "systolic" => Ok(Operand::Systolic(q)),
                "diastolic" => Ok(Operand::Diastolic(q)),
                other => Err(format!("`.{other}`: only .systolic and .diastolic exist")),
            };
        }
        Ok(Operand::Answer(q))
    }
}

fn is_keyword(s: &str) -> bool {
    matches!(s, "and" | "or" | "not" | "in" | "true" | "false")
}

fn show(t: &Tok) -> String {
    match t {
        Tok::Id(s) => format!("`{s}`"),
        Tok::Num(n) => format!("number {n}"),
        Tok::Dur(d) => format!("window {}h", d.num_hours()),
        Tok::Str(s) => format!("'{s}'"),
        Tok::Op(o) => format!("operator {o:?}"),
        Tok::Star => "`*`".into(),
        other => format!("{other:?}"),
    }
}

/// Parses a condition. Errors are messages for [`super::ScriptErrorKind::Condition`].
pub fn parse(src: &str) -> Result<Expr, String> {
    let toks = lex(src)?;
    if toks.is_empty() {
        return Err("empty condition".into());
    }
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
    };
    let e = p.or()?;
    match p.peek() {
        None => Ok(e),
        Some(t) => Err(format!("unexpected {} after the condition", show(t))),
    }
}

/// Type-checks a parsed condition against the questions it may read (`scope`).
pub fn check(e: &Expr, scope: &[Question]) -> Result<(), String> {
    let find = |q: &QuestionId| {
        scope
            .iter()
            .find(|x| x.id == *q)
            .ok_or_else(|| format!("unknown question `{q}`"))
    };
    match e {
        Expr::And(v) | Expr::Or(v) => v.iter().try_for_each(|e| check(e, scope)),
        Expr::Not(e) => check(e, scope),
        Expr::Answered(q) => find(q).map(|_| ()),
        Expr::Yes(q) => match find(q)?.kind {
            QuestionKind::YesNo => Ok(()),
            _ => Err(format!(
                "`{q}` is not a yes/no question; compare it with a value"
            )),
        },
        Expr::In(q, opts) => match &find(q)?.kind {
            QuestionKind::Choice { options } => {
                opts.iter().try_for_each(|o| option_exists(q, options, o))
            }
            _ => Err(format!("`{q}` is not a choice question")),
        },
        Expr::Cmp(operand, _, Literal::Baseline(f)) => match operand {
            Operand::Lab(..) if f.is_finite() && *f > 0.0 => Ok(()),
            Operand::Lab(..) => Err(format!("`{f} * baseline`: the factor must be positive")),
            _ => Err("`baseline` compares with a lab(NAME) on the left".into()),
        },
        Expr::Cmp(operand, op, lit) => {
            let numeric = |lit: &Literal| match lit {
                Literal::Number(_) => Ok(()),
                _ => Err("compare with a number".to_string()),
            };
            match operand {
                Operand::Answer(q) => match (&find(q)?.kind, lit) {
                    (QuestionKind::YesNo, Literal::Bool(_)) if matches!(op, CmpOp::Eq | CmpOp::Ne) => Ok(()),
                    (QuestionKind::YesNo, _) => Err(format!("`{q}` is yes/no: use `{q}`, `not {q}` or `== true`")),
                    (QuestionKind::Number { .. } | QuestionKind::Scale { .. }, lit) => numeric(lit),
                    (QuestionKind::Choice { options }, Literal::Option(o)) if matches!(op, CmpOp::Eq | CmpOp::Ne) => option_exists(q, options, o),
                    (QuestionKind::Choice { options }, Literal::Number(_)) if options.iter().all(|o| o.score.is_some()) => Ok(()),
                    (QuestionKind::Choice { .. }, _) => Err(format!("`{q}` is a choice: compare with == 'option' (or a number when every option has a score)")),
                    (QuestionKind::BloodPressure, _) => Err(format!("use `{q}.systolic` or `{q}.diastolic`")),
                    (QuestionKind::Text { .. } | QuestionKind::Date, _) => Err(format!("`{q}` cannot be compared; use answered({q})")),
                },
                Operand::Systolic(q) | Operand::Diastolic(q) => match find(q)?.kind {
                    QuestionKind::BloodPressure => numeric(lit),
                    _ => Err(format!("`{q}` is not a blood_pressure question")),
                },
                Operand::Sum(qs) => {
                    for q in qs {
                        let ok = match &find(q)?.kind {
                            QuestionKind::Number { min, .. } => *min >= 0.0,
                            QuestionKind::Scale { .. } => true,
                            QuestionKind::Choice { options } => options.iter().all(|o| o.score.is_some_and(|s| s >= 0.0)),
                            _ => false,
                        };
                        if !ok {
                            return Err(format!("sum() needs non-negative numeric answers; `{q}` is not one"));
                        }
                    }
                    numeric(lit)
                }
                Operand::Lab(..) => numeric(lit),
                Operand::Rise(k, _) | Operand::Fall(k, _) => {
                    let fed = scope.iter().any(|q| match q.kind {
                        QuestionKind::BloodPressure => matches!(k, MeasurementKind::Sbp | MeasurementKind::Dbp),
                        _ => q.measurement == Some(*k),
                    });
                    if !fed {
                        return Err(format!("no question of this script records `{k}` (add `measurement = \"{k}\"`)"));
                    }
                    numeric(lit)
                }
            }
        }
    }
}

fn option_exists(
    q: &QuestionId,
    options: &[super::ChoiceOption],
    o: &OptionId,
) -> Result<(), String> {
    if options.iter().any(|x| x.id == *o) {
        Ok(())
    } else {
        let ids: Vec<_> = options.iter().map(|x| x.id.as_str()).collect();
        Err(format!(
            "`{q}` has no option '{o}'; options: {}",
            ids.join(", ")
        ))
    }
}

#[cfg(test)]
#[path = "expr_tests.rs"]
mod tests;
