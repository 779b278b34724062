//! The domain: every read and write of every door goes through here, so validation,
//! naming rules and transactions live once.
pub mod artifacts;
pub mod bulk;
pub mod children;
pub mod columns;
pub mod edges;
pub mod error;
pub mod fields;
pub mod filter;
pub mod filter_query;
pub mod history;
pub mod kind;
pub mod page;
pub mod props;
pub mod read;
pub mod registered_model;
pub mod release;
pub mod run;
pub mod time;
pub mod value_order;
pub mod write;

pub use error::{ErrorCode, RegistryError, Result};
pub use fields::NodeFields;
pub use filter::Filter;
pub use kind::NodeKind;
pub use page::{Order, Page, PageArgs, PageLimits};
