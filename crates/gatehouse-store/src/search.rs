//! Case-insensitive substring search written once for both backends: `LOWER(column) LIKE
//! pattern ESCAPE '\'`, with the user's `%` and `_` escaped so they match literally.

use sea_orm::sea_query::{Expr, Func, LikeExpr, SimpleExpr};
use sea_orm::{ColumnTrait, ExprTrait};

/// The LIKE pattern for a search string, or `None` when there is nothing to search for.
pub(crate) fn contains_pattern(search: Option<&str>) -> Option<String> {
    let needle = search.map(str::trim).filter(|s| !s.is_empty())?;
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    Some(pattern)
}

/// What a user search looks in: username, name and email folded to lower case, one per line
/// (so a term typed in a search box never matches across two fields). Stored in `users.search_text` whenever one
/// of them changes; folding here, not with SQL `LOWER`, folds all of Unicode on both backends.
pub(crate) fn user_search_text(username: &str, name: &str, email: Option<&str>) -> String {
    let mut text =
        String::with_capacity(username.len() + name.len() + 2 + email.map_or(0, str::len));
    text.push_str(&username.to_lowercase());
    text.push('\n');
    text.push_str(&name.to_lowercase());
    text.push('\n');
    text.push_str(&email.unwrap_or_default().to_lowercase());
    text
}

/// `column LIKE pattern ESCAPE '\'` for a column that is stored in lower case already.
pub(crate) fn like(column: impl ColumnTrait, pattern: &str) -> SimpleExpr {
    Expr::col(column).like(LikeExpr::new(pattern).escape('\\'))
}

/// `LOWER(column) LIKE pattern ESCAPE '\'`.
pub(crate) fn lower_like(column: impl ColumnTrait, pattern: &str) -> SimpleExpr {
    Expr::expr(Func::lower(Expr::col(column))).like(LikeExpr::new(pattern).escape('\\'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_wildcards_and_lowercases() {
        assert_eq!(
            contains_pattern(Some("A%b_c\\")).as_deref(),
            Some("%a\\%b\\_c\\\\%")
        );
        assert_eq!(contains_pattern(Some("  ")), None);
        assert_eq!(contains_pattern(None), None);
    }
}
