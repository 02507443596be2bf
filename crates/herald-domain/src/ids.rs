//! Typed ids. Each is a prefix plus a UUIDv7 in simple hex form, so ids sort by creation time.

use std::fmt;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A fresh id, later-sorting than any id made before it in this process.
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, uuid::Uuid::now_v7().simple()))
            }

            /// Accepts only ids of this type's exact form.
            pub fn parse(raw: &str) -> Option<Self> {
                let hex = raw.strip_prefix($prefix)?;
                let well_formed = hex.len() == 32
                    && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                well_formed.then(|| Self(raw.to_owned()))
            }

            /// Wraps a value read back from the store, which only ever holds ids it was given.
            pub fn from_trusted(raw: String) -> Self {
                Self(raw)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

typed_id!(
    /// An organisation (tenant).
    OrgId, "org_"
);
typed_id!(EventId, "evt_");
typed_id!(IntegrationId, "int_");
typed_id!(
    /// A delivery of one event to one integration; also the Standard Webhooks `webhook-id`.
    DeliveryId, "dlv_"
);
typed_id!(AttemptId, "att_");
typed_id!(TokenId, "tok_");
typed_id!(
    /// A user, a group or a service principal.
    PrincipalId,
    "prn_"
);
typed_id!(RoleAssignmentId, "ras_");
typed_id!(AuditId, "aud_");
typed_id!(
    /// A registered stack, namespace or module.
    ScopeId, "scp_"
);
typed_id!(
    /// A supply of an integration to a stack, namespace or module.
    SupplyId, "sup_"
);
typed_id!(
    /// An integration event: a trigger subscribed for an integration on a scope (demand).
    IntegrationEventId, "iev_"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_and_sort_by_creation() {
        let first = EventId::generate();
        let second = EventId::generate();
        assert_eq!(EventId::parse(first.as_str()), Some(first.clone()));
        assert!(first < second);
    }

    #[test]
    fn parse_rejects_other_prefixes_and_shapes() {
        let id = EventId::generate();
        assert!(DeliveryId::parse(id.as_str()).is_none());
        assert!(EventId::parse("evt_123").is_none());
        assert!(EventId::parse("evt_0123456789ABCDEF0123456789abcdef").is_none());
    }
}
