//! Who is calling: the identity a verified token (or its absence) gives a request.

use crate::domain::PUBLIC_TENANT;

/// The role that may create auctions.
pub const SELLER_ROLE: &str = "seller";

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `sub`, or `None` for an anonymous viewer.
    pub user_id: Option<String>,
    /// The tenant (`public` for anonymous viewers).
    pub tenant_id: String,
    /// Roles from the token (`seller` may create auctions).
    pub roles: Vec<String>,
}

impl Identity {
    /// An anonymous viewer of the `public` tenant.
    #[must_use]
    pub fn anonymous() -> Self {
        Self {
            user_id: None,
            tenant_id: PUBLIC_TENANT.to_owned(),
            roles: Vec::new(),
        }
    }

    /// Whether the identity has `role`.
    #[must_use]
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}
