//! Go duration strings (`24h`, `1h30m`, `90s`, `1.5h`), the unit Dex's `expiry` settings use.

/// Whole seconds in a Go duration string, rounded down; `None` when it is not one, is
/// negative, or does not fit.
pub fn seconds(text: &str) -> Option<i64> {
    let mut rest = text.trim();
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut nanos: f64 = 0.0;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&end| end > 0)?;
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        nanos += number * scale;
        rest = &rest[unit_end..];
    }
    let seconds = (nanos / 1e9).floor();
    (seconds.is_finite() && seconds <= i64::MAX as f64).then_some(seconds as i64)
}

#[cfg(test)]
mod tests {
    use super::seconds;

    #[test]
    fn reads_go_durations() {
        for (text, expected) in [
            ("24h", Some(86_400)),
            ("1h30m", Some(5_400)),
            ("90s", Some(90)),
            ("1.5h", Some(5_400)),
            ("720h", Some(2_592_000)),
            ("500ms", Some(0)),
            ("0", Some(0)),
            ("", None),
            ("10", None),
            ("-5m", None),
            ("3d", None),
            ("h", None),
            ("1h 30m", None),
        ] {
            assert_eq!(seconds(text), expected, "{text:?}");
        }
    }
}
