//! Registry errors as GraphQL errors with a stable `extensions.code`; internal details are
//! logged, never sent.
use async_graphql::{ErrorExtensions, Response, ServerError};

use crate::registry::RegistryError;

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

/// Gives every error a code: errors raised by async-graphql itself (parse, validation,
/// argument coercion, limits) come without one.
pub fn tag_errors(response: &mut Response) {
    for err in &mut response.errors {
        if has_code(err) {
            continue;
        }
        let msg = err.message.to_ascii_lowercase();
        let code = if msg.contains("nested too deep")
            || msg.contains("too complex")
            || msg.contains("too many")
        {
            "LIMIT_EXCEEDED"
        } else {
            "INVALID_INPUT"
        };
        err.extensions
            .get_or_insert_with(Default::default)
            .set("code", code);
    }
}

pub fn error_response(message: impl Into<String>, code: &str) -> Response {
    let mut err = ServerError::new(message, None);
    err.extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
    Response::from_errors(vec![err])
}
