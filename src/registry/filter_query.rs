//! Kubeflow's `filterQuery` syntax, parsed into a parameterized SQL condition; shared by
//! the REST and GraphQL doors. Grammar:
//!
//! ```text
//! expr       := and ("OR" and)*
//! and        := primary ("AND" primary)*
//! primary    := "(" expr ")" | property op value | property "IN" "(" value ("," value)* ")"
//! property   := ident ("." ident)* | `quoted` ("." type)?      type: string_value | int_value | double_value | bool_value
//! op         := = | != | <> | > | < | >= | <= | LIKE | ILIKE
//! value      := 'text' | "text" | number | true | false
//! ```
use entity::{node, node_property};
use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait, Func, LikeExpr, Query, SimpleExpr};

use super::error::{RegistryError, Result};
use super::filter::property_exists;
use super::kind::NodeKind;

const FIELD: &str = "filterQuery";

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Quoted(String),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
    Dot,
    And,
    Or,
    In,
}

fn syntax(pos: usize, msg: impl std::fmt::Display) -> RegistryError {
    RegistryError::invalid(FIELD, format!("syntax error at position {pos}: {msg}"))
}

fn lex(src: &str) -> Result<Vec<(usize, Tok)>> {
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => (out.push((pos, Tok::LParen)), i += 1).1,
            ')' => (out.push((pos, Tok::RParen)), i += 1).1,
            ',' => (out.push((pos, Tok::Comma)), i += 1).1,
            '.' if !chars.get(i + 1).is_some_and(|(_, d)| d.is_ascii_digit()) => {
                out.push((pos, Tok::Dot));
                i += 1;
            }
            '=' => (out.push((pos, Tok::Op("="))), i += 1).1,
            '!' | '<' | '>' => {
                let next = chars.get(i + 1).map(|(_, d)| *d);
                let (op, len) = match (c, next) {
                    ('!', Some('=')) => ("!=", 2),
                    ('<', Some('>')) => ("!=", 2),
                    ('<', Some('=')) => ("<=", 2),
                    ('>', Some('=')) => (">=", 2),
                    ('<', _) => ("<", 1),
                    ('>', _) => (">", 1),
                    _ => return Err(syntax(pos, "expected != after !")),
                };
                out.push((pos, Tok::Op(op)));
                i += len;
            }
            '\'' | '"' | '`' => {
                let mut text = String::new();
                let mut j = i + 1;
                loop {
                    let Some(&(_, d)) = chars.get(j) else {
                        return Err(syntax(pos, "unterminated quote"));
                    };
                    if d == '\\'
                        && let Some(&(_, e)) = chars.get(j + 1)
                    {
                        text.push(e);
                        j += 2;
                        continue;
                    }
                    if d == c {
                        // a doubled quote stands for itself
                        if chars.get(j + 1).is_some_and(|(_, e)| *e == c) {
                            text.push(c);
                            j += 2;
                            continue;
                        }
                        break;
                    }
                    text.push(d);
                    j += 1;
                }
                out.push((
                    pos,
                    if c == '`' {
                        Tok::Quoted(text)
                    } else {
                        Tok::Str(text)
                    },
                ));
                i = j + 1;
            }
            c if c.is_ascii_digit() || c == '-' || c == '.' || c == '+' => {
                let mut j = i + 1;
                while chars.get(j).is_some_and(|(_, d)| {
                    d.is_ascii_digit() || matches!(d, '.' | 'e' | 'E' | '-' | '+')
                }) {
                    j += 1;
                }
                let end = chars.get(j).map_or(src.len(), |(p, _)| *p);
                let text = &src[pos..end];
                let tok = if let Ok(v) = text.parse::<i64>() {
                    Tok::Int(v)
                } else if let Ok(v) = text.parse::<f64>() {
                    Tok::Float(v)
                } else {
                    return Err(syntax(pos, format!("{text:?} is not a number")));
                };
                out.push((pos, tok));
                i = j;
            }
            c if c.is_alphanumeric() || c == '_' || c == '$' => {
                let mut j = i + 1;
                while chars
                    .get(j)
                    .is_some_and(|(_, d)| d.is_alphanumeric() || matches!(d, '_' | '-' | '$'))
                {
                    j += 1;
                }
                let end = chars.get(j).map_or(src.len(), |(p, _)| *p);
                let word = &src[pos..end];
                let tok = match word.to_ascii_uppercase().as_str() {
                    "AND" => Tok::And,
                    "OR" => Tok::Or,
                    "IN" => Tok::In,
                    "LIKE" => Tok::Op("LIKE"),
                    "ILIKE" => Tok::Op("ILIKE"),
                    "TRUE" => Tok::Bool(true),
                    "FALSE" => Tok::Bool(false),
                    _ => Tok::Ident(word.to_owned()),
                };
                out.push((pos, tok));
                i = j;
            }
            other => return Err(syntax(pos, format!("unexpected character {other:?}"))),
        }
    }
    Ok(out)
}

#[derive(Clone, Debug, PartialEq)]
enum Lit {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Lit {
    fn value(&self) -> sea_orm::Value {
        match self {
            Lit::Str(s) => s.clone().into(),
            Lit::Int(i) => (*i).into(),
            Lit::Float(f) => (*f).into(),
            Lit::Bool(b) => (*b).into(),
        }
    }
}

/// How deep parentheses may nest: the parser recurses once per level, and a few
/// thousand levels would overflow its stack.
pub const MAX_NESTING: usize = 64;

struct Parser<'a> {
    toks: Vec<(usize, Tok)>,
    at: usize,
    end: usize,
    kinds: &'a [NodeKind],
    /// Parentheses open around the current position.
    depth: usize,
    /// Custom properties named bare (no quotes, no type suffix).
    bare: Vec<String>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(_, t)| t)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.at).map_or(self.end, |(p, _)| *p)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).map(|(_, t)| t.clone());
        self.at += 1;
        t
    }

    fn expect(&mut self, want: Tok, what: &str) -> Result<()> {
        let pos = self.pos();
        match self.next() {
            Some(t) if t == want => Ok(()),
            _ => Err(syntax(pos, format!("expected {what}"))),
        }
    }

    fn or(&mut self) -> Result<Condition> {
        let mut cond = Condition::any().add(self.and()?);
        while self.peek() == Some(&Tok::Or) {
            self.at += 1;
            cond = cond.add(self.and()?);
        }
        Ok(cond)
    }

    fn and(&mut self) -> Result<Condition> {
        let mut cond = Condition::all().add(self.primary()?);
        while self.peek() == Some(&Tok::And) {
            self.at += 1;
            cond = cond.add(self.primary()?);
        }
        Ok(cond)
    }

    fn primary(&mut self) -> Result<Condition> {
        if self.peek() == Some(&Tok::LParen) {
            if self.depth == MAX_NESTING {
                return Err(RegistryError::LimitExceeded(format!(
                    "filterQuery: parentheses nest at most {MAX_NESTING} deep (position {})",
                    self.pos()
                )));
            }
            self.at += 1;
            self.depth += 1;
            let inner = self.or()?;
            self.expect(Tok::RParen, "')'")?;
            self.depth -= 1;
            return Ok(inner);
        }
        let (path, quoted) = self.property()?;
        let pos = self.pos();
        let op = match self.next() {
            Some(Tok::Op(op)) => op,
            Some(Tok::In) => "IN",
            _ => {
                return Err(syntax(
                    pos,
                    "expected an operator (= != <> > < >= <= LIKE ILIKE IN)",
                ));
            }
        };
        let values = if op == "IN" {
            self.expect(Tok::LParen, "'(' after IN")?;
            let mut values = vec![self.literal()?];
            while self.peek() == Some(&Tok::Comma) {
                self.at += 1;
                values.push(self.literal()?);
            }
            self.expect(Tok::RParen, "')' closing the IN list")?;
            values
        } else {
            vec![self.literal()?]
        };
        Ok(Condition::all().add(self.comparison(&path, quoted, op, &values, pos)?))
    }

    fn property(&mut self) -> Result<(Vec<String>, bool)> {
        let pos = self.pos();
        let (first, quoted) = match self.next() {
            Some(Tok::Ident(s)) => (s, false),
            Some(Tok::Quoted(s)) => (s, true),
            _ => return Err(syntax(pos, "expected a property name")),
        };
        let mut path = vec![first];
        while self.peek() == Some(&Tok::Dot) {
            self.at += 1;
            let pos = self.pos();
            match self.next() {
                Some(Tok::Ident(s)) => path.push(s),
                _ => return Err(syntax(pos, "expected a name after '.'")),
            }
        }
        Ok((path, quoted))
    }

    fn literal(&mut self) -> Result<Lit> {
        let pos = self.pos();
        match self.next() {
            Some(Tok::Str(s)) => Ok(Lit::Str(s)),
            Some(Tok::Int(i)) => Ok(Lit::Int(i)),
            Some(Tok::Float(f)) => Ok(Lit::Float(f)),
            Some(Tok::Bool(b)) => Ok(Lit::Bool(b)),
            _ => Err(syntax(
                pos,
                "expected a value (quoted string, number, true or false)",
            )),
        }
    }

    fn comparison(
        &mut self,
        path: &[String],
        quoted: bool,
        op: &str,
        values: &[Lit],
        pos: usize,
    ) -> Result<SimpleExpr> {
        let typed = ["string_value", "int_value", "double_value", "bool_value"];
        let (name, value_type) = match path.split_last() {
            Some((last, rest)) if !rest.is_empty() && typed.contains(&last.as_str()) => {
                (rest.join("."), Some(last.as_str()))
            }
            _ => (path.join("."), None),
        };
        if !quoted
            && value_type.is_none()
            && let Some(expr) = self.standard(&name, op, values, pos)?
        {
            return Ok(expr);
        }
        if !quoted && value_type.is_none() && !self.bare.contains(&name) {
            self.bare.push(name.clone());
        }
        custom(&name, value_type, op, values, pos)
    }

    /// Built-in fields; `None` when `name` is not one (then it is a custom property).
    fn standard(
        &self,
        name: &str,
        op: &str,
        values: &[Lit],
        pos: usize,
    ) -> Result<Option<SimpleExpr>> {
        use node::Column as C;
        let artifacts = !self.kinds.is_empty() && self.kinds.iter().all(|k| k.is_artifact());
        if artifacts && matches!(name, "experimentRunId" | "experimentId") {
            return self.artifact_run(name, op, values, pos).map(Some);
        }
        let col = match name {
            "id" => C::Id,
            "name" => C::Name,
            "externalId" | "external_id" => C::ExternalId,
            "description" => C::Description,
            "state" | "desiredState" | "lastKnownState" => C::State,
            "owner" | "author" => C::Owner,
            "uri" => C::Uri,
            "status" => C::Status,
            "createTimeSinceEpoch" | "create_time_since_epoch" => C::CreateTime,
            "lastUpdateTimeSinceEpoch" | "last_update_time_since_epoch" => C::LastUpdateTime,
            "startTimeSinceEpoch" => C::StartTime,
            "endTimeSinceEpoch" => C::EndTime,
            "modelFormatName" => C::ModelFormatName,
            "modelFormatVersion" => C::ModelFormatVersion,
            "runtime" => C::Runtime,
            "digest" => C::Digest,
            "sourceType" => C::SourceType,
            "source" => C::Source,
            "value" if self.kinds.iter().all(|k| *k == NodeKind::Metric) => C::MetricValue,
            "value" if self.kinds.iter().all(|k| *k == NodeKind::Parameter) => C::ParameterValue,
            "step" => C::MetricStep,
            "timestamp" => C::MetricTimestamp,
            "registeredModelId" if self.kinds == [NodeKind::ModelVersion] => C::ParentId,
            "registeredModelId" => C::RegisteredModelId,
            "modelVersionId" => C::ModelVersionId,
            "experimentId" | "servingEnvironmentId" | "inferenceServiceId" | "parentResourceId" => {
                C::ParentId
            }
            "artifactType" => {
                let kinds = values
                    .iter()
                    .map(|v| match v {
                        Lit::Str(s) => NodeKind::from_artifact_type(s)
                            .map(|k| Lit::Str(k.as_str().to_owned()))
                            .ok_or_else(|| syntax(pos, format!("unknown artifactType {s:?}"))),
                        _ => Err(syntax(pos, "artifactType compares with a string")),
                    })
                    .collect::<Result<Vec<_>>>()?;
                return Ok(Some(compare(
                    Expr::col((node::Entity, C::Kind)),
                    op,
                    &kinds,
                    pos,
                )?));
            }
            _ => return Ok(None),
        };
        let values = match col {
            C::Id | C::ParentId | C::RegisteredModelId | C::ModelVersionId => {
                id_values(name, values, pos)?
            }
            C::CreateTime
            | C::LastUpdateTime
            | C::StartTime
            | C::EndTime
            | C::MetricStep
            | C::MetricTimestamp => int_values(name, values, pos)?,
            C::MetricValue => number_values(name, values, pos)?,
            _ => text_values(name, values, pos)?,
        };
        Ok(Some(compare(
            Expr::col((node::Entity, col)),
            op,
            &values,
            pos,
        )?))
    }

    /// `experimentRunId` / `experimentId` of artifacts: the run they were logged in (their
    /// parent), or that run's experiment.
    fn artifact_run(&self, name: &str, op: &str, values: &[Lit], pos: usize) -> Result<SimpleExpr> {
        use node::Column as C;
        let values = id_values(name, values, pos)?;
        let in_a_run =
            Expr::col((node::Entity, C::ParentKind)).eq(NodeKind::ExperimentRun.as_str());
        let parent = Expr::col((node::Entity, C::ParentId));
        if name == "experimentRunId" {
            return Ok(in_a_run.and(compare(parent, op, &values, pos)?));
        }
        // the runs of the experiments named, as a subquery over the same table
        let run = Alias::new("run");
        let runs = Query::select()
            .column((run.clone(), C::Id))
            .from_as(node::Entity, run.clone())
            .and_where(Expr::col((run.clone(), C::Kind)).eq(NodeKind::ExperimentRun.as_str()))
            .and_where(compare(
                Expr::col((run.clone(), C::ParentId)),
                op,
                &values,
                pos,
            )?)
            .to_owned();
        Ok(in_a_run.and(parent.in_subquery(runs)))
    }
}

/// Ids compare as integers; clients send them as strings (`experimentRunId IN ('5')`).
fn id_values(name: &str, values: &[Lit], pos: usize) -> Result<Vec<Lit>> {
    values
        .iter()
        .map(|v| match v {
            Lit::Int(i) => Ok(Lit::Int(*i)),
            Lit::Str(s) => s
                .parse::<i64>()
                .map(Lit::Int)
                .map_err(|_| syntax(pos, format!("{name} compares with an id; {s:?} is not one"))),
            _ => Err(syntax(pos, format!("{name} compares with an id"))),
        })
        .collect()
}

/// Times and steps are integers; a quoted integer is read as one (clients send epoch
/// milliseconds as strings, as the API writes them).
fn int_values(name: &str, values: &[Lit], pos: usize) -> Result<Vec<Lit>> {
    values
        .iter()
        .map(|v| match v {
            Lit::Int(i) => Ok(Lit::Int(*i)),
            Lit::Str(s) => s.trim().parse::<i64>().map(Lit::Int).map_err(|_| {
                syntax(
                    pos,
                    format!("{name} compares with an integer; {s:?} is not one"),
                )
            }),
            _ => Err(syntax(pos, format!("{name} compares with an integer"))),
        })
        .collect()
}

/// A metric's value is a number.
fn number_values(name: &str, values: &[Lit], pos: usize) -> Result<Vec<Lit>> {
    values
        .iter()
        .map(|v| match v {
            Lit::Int(i) => Ok(Lit::Float(*i as f64)),
            Lit::Float(f) => Ok(Lit::Float(*f)),
            Lit::Str(s) => s.trim().parse::<f64>().map(Lit::Float).map_err(|_| {
                syntax(
                    pos,
                    format!("{name} compares with a number; {s:?} is not one"),
                )
            }),
            Lit::Bool(_) => Err(syntax(pos, format!("{name} compares with a number"))),
        })
        .collect()
}

/// Text fields compare with quoted strings only: `name = 1` is a mistake, not a match.
fn text_values(name: &str, values: &[Lit], pos: usize) -> Result<Vec<Lit>> {
    values
        .iter()
        .map(|v| match v {
            Lit::Str(s) => Ok(Lit::Str(s.clone())),
            _ => Err(syntax(pos, format!("{name} compares with a quoted string"))),
        })
        .collect()
}

fn compare(lhs: Expr, op: &str, values: &[Lit], pos: usize) -> Result<SimpleExpr> {
    let v = values[0].value();
    Ok(match op {
        "=" => lhs.eq(v),
        "!=" => lhs.ne(v),
        ">" => lhs.gt(v),
        "<" => lhs.lt(v),
        ">=" => lhs.gte(v),
        "<=" => lhs.lte(v),
        "IN" => lhs.is_in(values.iter().map(Lit::value)),
        "LIKE" | "ILIKE" => {
            let Lit::Str(pattern) = &values[0] else {
                return Err(syntax(pos, format!("{op} needs a quoted pattern")));
            };
            if op == "LIKE" {
                lhs.like(LikeExpr::new(pattern.clone()))
            } else {
                SimpleExpr::FunctionCall(Func::lower(lhs))
                    .like(LikeExpr::new(pattern.to_lowercase()))
            }
        }
        other => return Err(syntax(pos, format!("unknown operator {other}"))),
    })
}

fn custom(
    name: &str,
    value_type: Option<&str>,
    op: &str,
    values: &[Lit],
    pos: usize,
) -> Result<SimpleExpr> {
    use node_property::Column as P;
    let first = &values[0];
    let col = match value_type {
        Some("string_value") => P::StringValue,
        Some("int_value") => P::IntValue,
        Some("double_value") => P::DoubleValue,
        Some("bool_value") => P::BoolValue,
        _ => match first {
            Lit::Str(_) => P::StringValue,
            // ints are indexed as doubles too, so an untyped number matches either type
            Lit::Int(_) | Lit::Float(_) => P::DoubleValue,
            Lit::Bool(_) => P::BoolValue,
        },
    };
    let values: Vec<Lit> = values
        .iter()
        .map(|v| match (col, v) {
            (P::DoubleValue, Lit::Int(i)) => Ok(Lit::Float(*i as f64)),
            (P::IntValue, Lit::Float(f)) if f.fract() == 0.0 => Ok(Lit::Int(*f as i64)),
            (P::StringValue, Lit::Str(_))
            | (P::IntValue, Lit::Int(_))
            | (P::DoubleValue, Lit::Float(_))
            | (P::BoolValue, Lit::Bool(_)) => Ok(v.clone()),
            _ => Err(syntax(
                pos,
                format!("{name}: the value does not fit its type"),
            )),
        })
        .collect::<Result<_>>()?;
    let test = compare(Expr::col((node_property::Entity, col)), op, &values, pos)?;
    Ok(property_exists(name, Some(test)))
}

/// The built-in fields a query may name (others are custom properties).
pub const FIELDS: &str = "id, name, externalId, description, state, owner, author, uri, \
    status, createTimeSinceEpoch, lastUpdateTimeSinceEpoch, startTimeSinceEpoch, \
    endTimeSinceEpoch, modelFormatName, modelFormatVersion, runtime, digest, sourceType, \
    source, value, step, timestamp, artifactType, registeredModelId, modelVersionId, \
    experimentId, experimentRunId, servingEnvironmentId, inferenceServiceId, \
    parentResourceId, desiredState, lastKnownState";

/// A parsed query: the condition, and the custom properties it names bare, each of
/// which must be a property some node of the listed kinds has (else it is a typo, or a
/// field that does not exist, and would silently match nothing).
#[derive(Clone, Debug)]
pub struct Parsed {
    pub condition: Condition,
    pub bare_properties: Vec<String>,
}

/// Parses `src` for a list of `kinds`.
pub fn parse(src: &str, kinds: &[NodeKind]) -> Result<Condition> {
    parse_query(src, kinds).map(|p| p.condition)
}

/// Parses `src` for a list of `kinds`, keeping the bare custom property names.
pub fn parse_query(src: &str, kinds: &[NodeKind]) -> Result<Parsed> {
    // no store holds a NUL (writes refuse them), and PostgreSQL cannot compare one
    if src.contains('\0') {
        return Err(RegistryError::invalid(
            "filterQuery",
            "may not contain NUL characters",
        ));
    }
    let toks = lex(src)?;
    if toks.is_empty() {
        return Ok(Parsed {
            condition: Condition::all(),
            bare_properties: Vec::new(),
        });
    }
    let mut parser = Parser {
        toks,
        at: 0,
        end: src.len(),
        kinds,
        depth: 0,
        bare: Vec::new(),
    };
    let cond = parser.or()?;
    if parser.at < parser.toks.len() {
        return Err(syntax(parser.pos(), "unexpected text after the expression"));
    }
    Ok(Parsed {
        condition: cond,
        bare_properties: parser.bare,
    })
}

/// Refuses a query naming, bare, a custom property that no node of `kinds` has: the
/// name is a typo or a field that does not exist (`nmae`, `metrics.auc`), and would
/// match nothing without a word. A property named with its type (`team.string_value`)
/// or quoted is taken as asked.
pub async fn check_bare_properties<E: crate::db::exec::Exec>(
    conn: &E,
    kinds: &[NodeKind],
    names: &[String],
) -> Result<()> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
    #[derive(sea_orm::FromQueryResult, serde::Deserialize)]
    struct Holder {
        #[allow(dead_code)]
        node_id: i64,
    }
    for name in names {
        let mut of_kinds = Query::select();
        of_kinds.column(node::Column::Id).from(node::Entity);
        if !kinds.is_empty() {
            of_kinds.and_where(node::Column::Kind.is_in(kinds.iter().map(|k| k.as_str())));
        }
        let query = node_property::Entity::find()
            .select_only()
            .column(node_property::Column::NodeId)
            .filter(node_property::Column::Key.eq(name.as_str()))
            .filter(node_property::Column::NodeId.in_subquery(of_kinds.to_owned()))
            .limit(1);
        let found: Option<Holder> = crate::db::exec::first(conn, &query).await?;
        if found.is_none() {
            let what = match kinds {
                [one] => format!("{} has", one.label()),
                _ => "nothing listed here has".to_owned(),
            };
            return Err(RegistryError::invalid(
                "filterQuery",
                format!(
                    "unknown field {name:?}: the fields are {FIELDS}; and no {what} a custom \
                     property {name:?} (to match one by its type anyway: \
                     {name}.string_value = '...', or int_value, double_value, bool_value)"
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::sea_query::{Query, SqliteQueryBuilder};

    fn sql(q: &str) -> String {
        let cond = parse(q, &[NodeKind::RegisteredModel]).unwrap();
        Query::select()
            .column(node::Column::Id)
            .from(node::Entity)
            .cond_where(cond)
            .to_string(SqliteQueryBuilder)
    }

    #[test]
    fn parses_the_documented_examples() {
        assert!(sql("name = \"my-model\"").contains("\"node\".\"name\" = 'my-model'"));
        assert!(sql("accuracy > 0.95").contains("\"double_value\" > 0.95"));
        assert!(sql("name LIKE \"%tensorflow%\"").contains("LIKE '%tensorflow%'"));
        let complex = sql("(name = \"model-a\" OR name = \"model-b\") AND state = \"LIVE\"");
        assert!(
            complex.contains(" OR ") && complex.contains(" AND "),
            "{complex}"
        );
        assert!(sql("framework.string_value = \"pytorch\"").contains("'framework'"));
        assert!(sql("`mlflow.source.type` = \"notebook\"").contains("'mlflow.source.type'"));
        assert!(sql("epochs.int_value IN (1, 2)").contains("\"int_value\" IN (1, 2)"));
        assert!(sql("ok = TRUE").contains("\"bool_value\" = TRUE"));
        assert!(sql("name <> 'x' and id >= 3").contains("\"node\".\"id\" >= 3"));
    }

    #[test]
    fn reports_the_position_of_a_syntax_error() {
        let err = parse("name = ", &[]).unwrap_err().to_string();
        assert!(
            err.contains("filterQuery") && err.contains("position 7"),
            "{err}"
        );
        let err = parse("name = 'x' AND (", &[]).unwrap_err().to_string();
        assert!(err.contains("position 16"), "{err}");
        assert!(parse("name = 'unterminated", &[]).is_err());
        assert!(parse("name == 'x'", &[]).is_err());
    }

    /// Each level of parentheses is a level of the parser's recursion: deep nesting is
    /// refused as a limit, however deep, instead of overflowing the stack.
    #[test]
    fn built_in_fields_compare_with_values_of_their_type() {
        let refused = |q: &str| {
            let err = parse(q, &[NodeKind::RegisteredModel]).unwrap_err();
            assert_eq!(err.code(), crate::registry::ErrorCode::InvalidInput, "{q}");
            err.to_string()
        };
        assert!(refused("name = 1").contains("name compares with a quoted string"));
        assert!(refused("name != true").contains("quoted string"));
        assert!(refused("state >= 1.5").contains("state"));
        assert!(refused("lastUpdateTimeSinceEpoch = ''").contains("integer"));
        assert!(refused("name = 'a\0'").contains("NUL"));
        assert!(sql("createTimeSinceEpoch > '1700000000000'").contains("> 1700000000000"));
        let metric = parse("value > 1", &[NodeKind::Metric]).unwrap();
        let text = Query::select()
            .from(node::Entity)
            .cond_where(metric)
            .to_string(SqliteQueryBuilder);
        assert!(text.contains("1.0") || text.contains("> 1"), "{text}");
        assert!(parse("value = 'x'", &[NodeKind::Metric]).is_err());
        assert!(parse("step = 'x'", &[NodeKind::Metric]).is_err());
    }

    #[test]
    fn parentheses_nest_to_a_bound() {
        let nested =
            |levels: usize| format!("{}name = 'x'{}", "(".repeat(levels), ")".repeat(levels));
        assert!(parse(&nested(MAX_NESTING), &[]).is_ok());
        for levels in [MAX_NESTING + 1, 2_000, 100_000] {
            let err = parse(&nested(levels), &[]).unwrap_err();
            assert!(
                matches!(err, RegistryError::LimitExceeded(_)),
                "{levels} levels: {err:?}"
            );
            assert!(err.to_string().contains("at most 64"), "{err}");
        }
        // unbalanced, deep: still refused, not crashed
        assert!(parse(&"(".repeat(100_000), &[]).is_err());
    }
}
