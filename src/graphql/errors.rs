//! Registry errors as GraphQL errors with a stable `extensions.code`; internal details are
//! logged, never sent.
use async_graphql::{ErrorExtensions, LimitExceeded, Response, ServerError};

use crate::registry::{ErrorCode, RegistryError};

impl ErrorExtensions for RegistryError {
    fn extend(&self) -> async_graphql::Error {
        self.log_internal();
        async_graphql::Error::new(self.public_message()).extend_with(|_, e| {
            e.set("code", self.code().as_str());
            if let RegistryError::InvalidInput { field, .. } = self {
                e.set("field", field.as_str());
            }
        })
    }
}

/// Converts registry results in resolvers: `registry_call().await.gql()?`.
pub trait GqlResult<T> {
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> GqlResult<T> for Result<T, RegistryError> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|e| e.extend())
    }
}

impl<T> GqlResult<T> for Result<T, std::sync::Arc<RegistryError>> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|e| e.extend())
    }
}

fn has_code(err: &ServerError) -> bool {
    err.extensions
        .as_ref()
        .is_some_and(|ext| ext.get("code").is_some())
}

/// Gives every error a code. Errors async-graphql raises itself (parsing, validation,
/// argument coercion, limits) come without one: a limit says so by its typed source
/// (`LimitExceeded`) and becomes LIMIT_EXCEEDED with a message naming the bound and its
/// flag; anything else is the query's fault, INVALID_INPUT.
pub fn tag_errors(response: &mut Response) {
    for err in &mut response.errors {
        if has_code(err) {
            continue;
        }
        let code = match err.source::<LimitExceeded>().copied() {
            Some(limit) => {
                err.message = limit_message(limit);
                ErrorCode::LimitExceeded
            }
            None => ErrorCode::InvalidInput,
        };
        err.extensions
            .get_or_insert_with(Default::default)
            .set("code", code.as_str());
    }
}

fn limit_message(limit: LimitExceeded) -> String {
    match limit {
        LimitExceeded::Depth { depth, limit } => format!(
            "the query nests {depth} levels deep; at most {limit} are allowed (--max-query-depth)"
        ),
        LimitExceeded::Complexity { complexity, limit } => format!(
            "the query's complexity is {complexity}; at most {limit} is allowed (--max-complexity)"
        ),
        LimitExceeded::RecursionDepth { limit } => {
            format!("the query nests deeper than {limit} levels")
        }
    }
}

pub fn error_response(message: impl Into<String>, code: ErrorCode) -> Response {
    let mut err = ServerError::new(message, None);
    err.extensions
        .get_or_insert_with(Default::default)
        .set("code", code.as_str());
    Response::from_errors(vec![err])
}
