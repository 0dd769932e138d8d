//! Paging for every list the API, CLI and UI show, so no list ever loads a whole table.

use serde::{Deserialize, Serialize};

/// The largest page a caller may ask for.
pub const MAX_PAGE: u64 = 500;
/// The page size when none is given.
pub const DEFAULT_PAGE: u64 = 50;

/// A search-and-page request over a list of named objects, ordered by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListQuery {
    /// Case-insensitive substring to look for in names (and emails, for users).
    pub search: Option<String>,
    /// Page size; clamped to 1..=[`MAX_PAGE`].
    pub limit: u64,
    /// Rows to skip.
    pub offset: u64,
    /// Reverse the natural order (name descending; for events, oldest first).
    #[serde(default)]
    pub descending: bool,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            search: None,
            limit: DEFAULT_PAGE,
            offset: 0,
            descending: false,
        }
    }
}

impl ListQuery {
    /// Everything up to the largest page, for small tables and exports.
    pub fn all() -> Self {
        Self {
            limit: MAX_PAGE,
            ..Self::default()
        }
    }

    /// The page size actually used.
    pub fn clamped_limit(&self) -> u64 {
        self.limit.clamp(1, MAX_PAGE)
    }
}

/// One page of results with the total count, so callers can render pagination.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The rows on this page.
    pub items: Vec<T>,
    /// How many rows match in all.
    pub total: u64,
}
