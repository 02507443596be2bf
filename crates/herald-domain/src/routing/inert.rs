//! Filters that decide nothing. An integration is routed by its `events`, `target_ids` and
//! `severity_filter` only until it has an integration event; from then on supply ∩ demand
//! decides, and those filters are kept but ignored. Saying so where they are set (the API's
//! answer, `herald apply`) saves an admin from trusting a filter that no longer filters.

use crate::integration::Filters;

/// The filter fields set on an integration that routing ignores.
pub fn inert_filters(filters: &Filters, has_integration_events: bool) -> Vec<&'static str> {
    if !has_integration_events {
        return Vec::new();
    }
    [
        ("events", filters.events.is_some()),
        ("target_ids", filters.target_ids.is_some()),
        ("severity_filter", filters.severity_filter.is_some()),
    ]
    .into_iter()
    .filter_map(|(field, set)| set.then_some(field))
    .collect()
}

/// What to tell the admin about one inert filter field.
pub fn inert_filter_message(field: &str) -> String {
    let instead = match field {
        "severity_filter" => "set `min_severity` on its integration events instead",
        "events" => "set the `trigger` of its integration events instead",
        _ => "supply it to modules (or narrow its integration events' scope) instead",
    };
    format!(
        "`{field}` no longer applies: this integration has integration events, so they decide \
         what it hears (supply ∩ demand); {instead}, or remove `{field}`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Severity;

    #[test]
    fn only_set_filters_of_an_integration_with_integration_events_are_inert() {
        let filters = Filters {
            events: None,
            target_ids: Some(vec!["repo-1".into()]),
            severity_filter: Some(Severity::High),
        };
        assert_eq!(
            inert_filters(&filters, true),
            vec!["target_ids", "severity_filter"]
        );
        assert!(inert_filters(&filters, false).is_empty());
        assert!(inert_filters(&Filters::default(), true).is_empty());
        assert!(inert_filter_message("severity_filter").contains("min_severity"));
    }
}
