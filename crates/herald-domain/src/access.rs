//! Who may do what: the roles of seed 000 and the permissions they grant. Pure: the store
//! resolves a caller's role assignments (directly and through nested groups) into [`Grants`],
//! and every endpoint asks them for one [`Permission`].

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::IntegrationId;

/// What one endpoint needs. The OpenAPI document names it on every operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    IntegrationRead,
    IntegrationCreate,
    IntegrationUpdate,
    IntegrationDelete,
    IntegrationTest,
    /// Manage the role assignments on an integration.
    IntegrationGrant,
    EventPublish,
    EventRead,
    DeliveryRead,
    DeliveryRetry,
    PrincipalRead,
    /// Create and delete users, groups and service principals, their memberships and tokens.
    PrincipalManage,
    /// Manage organisation-wide role assignments.
    RoleGrant,
    AuditRead,
    /// Register the scope tree (stacks, namespaces, modules) and event types.
    CatalogueManage,
    /// Approve or reject a run that waits for approval (from a Slack message's buttons).
    ApprovalDecide,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::IntegrationRead => "integration.read",
            Permission::IntegrationCreate => "integration.create",
            Permission::IntegrationUpdate => "integration.update",
            Permission::IntegrationDelete => "integration.delete",
            Permission::IntegrationTest => "integration.test",
            Permission::IntegrationGrant => "integration.grant",
            Permission::EventPublish => "event.publish",
            Permission::EventRead => "event.read",
            Permission::DeliveryRead => "delivery.read",
            Permission::DeliveryRetry => "delivery.retry",
            Permission::PrincipalRead => "principal.read",
            Permission::PrincipalManage => "principal.manage",
            Permission::RoleGrant => "role.grant",
            Permission::AuditRead => "audit.read",
            Permission::CatalogueManage => "catalogue.manage",
            Permission::ApprovalDecide => "approval.decide",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    User,
    Group,
    ServicePrincipal,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Group => "group",
            PrincipalKind::ServicePrincipal => "service_principal",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::User, Self::Group, Self::ServicePrincipal]
            .into_iter()
            .find(|k| k.as_str() == raw)
    }
}

/// Organisation roles: they apply to every integration of the organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum OrgRole {
    Owner,
    Contributor,
    Reader,
    IntegrationCreator,
    IntegrationContributor,
    IntegrationReader,
    /// For the platform's service principals: may emit events, nothing else.
    EventPublisher,
    /// May approve or reject runs waiting for approval, nothing else.
    Approver,
}

/// Roles on one integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum IntegrationRole {
    Owner,
    Contributor,
    Reader,
    /// Manages who may do what on the integration, without changing it.
    IdentityAccessManager,
}

use Permission as P;

const INTEGRATION_OWNER: &[Permission] = &[
    P::IntegrationRead,
    P::IntegrationUpdate,
    P::IntegrationDelete,
    P::IntegrationTest,
    P::IntegrationGrant,
];
const INTEGRATION_CONTRIBUTOR: &[Permission] =
    &[P::IntegrationRead, P::IntegrationUpdate, P::IntegrationTest];
const INTEGRATION_READER: &[Permission] = &[P::IntegrationRead];

impl OrgRole {
    pub const ALL: [OrgRole; 8] = [
        OrgRole::Owner,
        OrgRole::Contributor,
        OrgRole::Reader,
        OrgRole::IntegrationCreator,
        OrgRole::IntegrationContributor,
        OrgRole::IntegrationReader,
        OrgRole::EventPublisher,
        OrgRole::Approver,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrgRole::Owner => "Owner",
            OrgRole::Contributor => "Contributor",
            OrgRole::Reader => "Reader",
            OrgRole::IntegrationCreator => "IntegrationCreator",
            OrgRole::IntegrationContributor => "IntegrationContributor",
            OrgRole::IntegrationReader => "IntegrationReader",
            OrgRole::EventPublisher => "EventPublisher",
            OrgRole::Approver => "Approver",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw)
    }

    /// What the role allows, on the organisation and on every integration in it.
    pub fn permissions(self) -> &'static [Permission] {
        match self {
            OrgRole::Owner => &[
                P::IntegrationRead,
                P::IntegrationCreate,
                P::IntegrationUpdate,
                P::IntegrationDelete,
                P::IntegrationTest,
                P::IntegrationGrant,
                P::EventPublish,
                P::EventRead,
                P::DeliveryRead,
                P::DeliveryRetry,
                P::PrincipalRead,
                P::PrincipalManage,
                P::RoleGrant,
                P::AuditRead,
                P::CatalogueManage,
                P::ApprovalDecide,
            ],
            // Everything but granting access, as an Azure Contributor.
            OrgRole::Contributor => &[
                P::IntegrationRead,
                P::IntegrationCreate,
                P::IntegrationUpdate,
                P::IntegrationDelete,
                P::IntegrationTest,
                P::EventPublish,
                P::EventRead,
                P::DeliveryRead,
                P::DeliveryRetry,
                P::PrincipalRead,
                P::AuditRead,
                P::CatalogueManage,
                P::ApprovalDecide,
            ],
            OrgRole::Reader => &[
                P::IntegrationRead,
                P::EventRead,
                P::DeliveryRead,
                P::PrincipalRead,
                P::AuditRead,
            ],
            OrgRole::IntegrationCreator => &[P::IntegrationCreate],
            OrgRole::IntegrationContributor => INTEGRATION_CONTRIBUTOR,
            OrgRole::IntegrationReader => INTEGRATION_READER,
            OrgRole::EventPublisher => &[P::EventPublish],
            OrgRole::Approver => &[P::ApprovalDecide],
        }
    }
}

impl IntegrationRole {
    pub const ALL: [IntegrationRole; 4] = [
        IntegrationRole::Owner,
        IntegrationRole::Contributor,
        IntegrationRole::Reader,
        IntegrationRole::IdentityAccessManager,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationRole::Owner => "Owner",
            IntegrationRole::Contributor => "Contributor",
            IntegrationRole::Reader => "Reader",
            IntegrationRole::IdentityAccessManager => "IdentityAccessManager",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw)
    }

    pub fn permissions(self) -> &'static [Permission] {
        match self {
            IntegrationRole::Owner => INTEGRATION_OWNER,
            IntegrationRole::Contributor => INTEGRATION_CONTRIBUTOR,
            IntegrationRole::Reader => INTEGRATION_READER,
            IntegrationRole::IdentityAccessManager => &[P::IntegrationRead, P::IntegrationGrant],
        }
    }
}

/// A caller's effective roles: every assignment to it or to a group it belongs to, however
/// deeply nested.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    pub org: HashSet<OrgRole>,
    pub integrations: HashMap<IntegrationId, HashSet<IntegrationRole>>,
}

impl Grants {
    /// Allowed organisation-wide (and so on every integration).
    pub fn allows(&self, permission: Permission) -> bool {
        self.org
            .iter()
            .any(|role| role.permissions().contains(&permission))
    }

    /// Allowed on this integration: organisation-wide or by a role on it.
    pub fn allows_on(&self, permission: Permission, integration: &IntegrationId) -> bool {
        self.allows(permission)
            || self.integrations.get(integration).is_some_and(|roles| {
                roles
                    .iter()
                    .any(|role| role.permissions().contains(&permission))
            })
    }

    /// The integrations this caller may read through roles on them alone; `None` means all
    /// (an organisation-wide role allows it).
    pub fn readable_integrations(&self) -> Option<Vec<IntegrationId>> {
        if self.allows(Permission::IntegrationRead) {
            return None;
        }
        let mut ids: Vec<IntegrationId> = self
            .integrations
            .iter()
            .filter(|(_, roles)| {
                roles
                    .iter()
                    .any(|r| r.permissions().contains(&Permission::IntegrationRead))
            })
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        Some(ids)
    }

    /// Whether this caller may grant `role` on the organisation: only if it holds every
    /// permission the role carries there (Kubernetes RBAC's escalation rule). `Err` names the
    /// first permission it lacks.
    pub fn may_grant_org_role(&self, role: OrgRole) -> Result<(), Permission> {
        match role.permissions().iter().find(|p| !self.allows(**p)) {
            Some(missing) => Err(*missing),
            None => Ok(()),
        }
    }

    /// Whether this caller may grant `role` on `integration`: only if it holds every
    /// permission the role carries on that integration. So an IdentityAccessManager, which
    /// may read and grant, grants at most Reader and IdentityAccessManager. `Err` names the
    /// first permission it lacks.
    pub fn may_grant_integration_role(
        &self,
        role: IntegrationRole,
        integration: &IntegrationId,
    ) -> Result<(), Permission> {
        match role
            .permissions()
            .iter()
            .find(|p| !self.allows_on(**p, integration))
        {
            Some(missing) => Err(*missing),
            None => Ok(()),
        }
    }

    /// Every permission held organisation-wide, for `GET /v1/me`.
    pub fn org_permissions(&self) -> Vec<&'static str> {
        let mut all: Vec<&'static str> = self
            .org
            .iter()
            .flat_map(|r| r.permissions().iter().map(|p| p.as_str()))
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(org: &[OrgRole], on: &[(&IntegrationId, IntegrationRole)]) -> Grants {
        let mut grants = Grants {
            org: org.iter().copied().collect(),
            ..Grants::default()
        };
        for (id, role) in on {
            grants
                .integrations
                .entry((*id).clone())
                .or_default()
                .insert(*role);
        }
        grants
    }

    #[test]
    fn a_reader_reads_and_changes_nothing() {
        let reader = grants(&[OrgRole::Reader], &[]);
        let id = IntegrationId::generate();
        assert!(reader.allows_on(P::IntegrationRead, &id));
        for denied in [
            P::IntegrationCreate,
            P::IntegrationUpdate,
            P::IntegrationTest,
            P::IntegrationDelete,
            P::EventPublish,
            P::RoleGrant,
        ] {
            assert!(!reader.allows_on(denied, &id), "{denied:?}");
        }
    }

    #[test]
    fn integration_roles_apply_to_their_integration_only() {
        let (mine, other) = (IntegrationId::generate(), IntegrationId::generate());
        let contributor = grants(&[], &[(&mine, IntegrationRole::Contributor)]);
        assert!(contributor.allows_on(P::IntegrationUpdate, &mine));
        assert!(!contributor.allows_on(P::IntegrationGrant, &mine));
        assert!(!contributor.allows_on(P::IntegrationRead, &other));
        assert_eq!(
            contributor.readable_integrations(),
            Some(vec![mine.clone()])
        );
        let iam = grants(&[], &[(&mine, IntegrationRole::IdentityAccessManager)]);
        assert!(iam.allows_on(P::IntegrationGrant, &mine));
        assert!(!iam.allows_on(P::IntegrationUpdate, &mine));
    }

    #[test]
    fn nobody_grants_a_role_carrying_permissions_it_lacks() {
        let (mine, other) = (IntegrationId::generate(), IntegrationId::generate());
        let iam = grants(&[], &[(&mine, IntegrationRole::IdentityAccessManager)]);
        let grantable: Vec<IntegrationRole> = IntegrationRole::ALL
            .into_iter()
            .filter(|role| iam.may_grant_integration_role(*role, &mine).is_ok())
            .collect();
        assert_eq!(
            grantable,
            [
                IntegrationRole::Reader,
                IntegrationRole::IdentityAccessManager
            ]
        );
        assert_eq!(
            iam.may_grant_integration_role(IntegrationRole::Owner, &mine),
            Err(P::IntegrationUpdate)
        );
        assert!(iam
            .may_grant_integration_role(IntegrationRole::Reader, &other)
            .is_err());
        let owner = grants(&[], &[(&mine, IntegrationRole::Owner)]);
        for role in IntegrationRole::ALL {
            assert!(
                owner.may_grant_integration_role(role, &mine).is_ok(),
                "{role:?}"
            );
        }
        let org_owner = grants(&[OrgRole::Owner], &[]);
        for role in OrgRole::ALL {
            assert!(org_owner.may_grant_org_role(role).is_ok(), "{role:?}");
        }
        assert!(owner.may_grant_org_role(OrgRole::Reader).is_err());
    }

    #[test]
    fn roles_round_trip_and_only_owners_grant() {
        for role in OrgRole::ALL {
            assert_eq!(OrgRole::parse(role.as_str()), Some(role));
            let granting = role.permissions().contains(&P::RoleGrant);
            assert_eq!(granting, role == OrgRole::Owner, "{role:?}");
        }
        for role in IntegrationRole::ALL {
            assert_eq!(IntegrationRole::parse(role.as_str()), Some(role));
        }
        let publisher = grants(&[OrgRole::EventPublisher], &[]);
        assert_eq!(publisher.org_permissions(), ["event.publish"]);
    }
}
