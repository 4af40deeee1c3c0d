//! Who is using the console: the signed-in user (`Console`, the admin operations' caller
//! plus the session's CSRF token), where the console lives, and what a page answers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use crate::error::AdminError;
use crate::service::AdminAuth;
use crate::state::SharedState;
use crate::urls::BaseUrl;

/// Where the console lives, under the relative path.
pub const CONSOLE: &str = "/admin/console";

/// A console answer: the page or redirect, or the page saying why not.
pub type Answer = Result<Response, Response>;

/// A signed-in console user: the admin operations' caller plus the session's CSRF token.
pub struct Console {
    pub auth: AdminAuth,
    pub csrf: String,
    pub base: BaseUrl,
    pub state: SharedState,
}

impl Console {
    /// A console URL under the base (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        self.base.join(&format!("{CONSOLE}{path}"))
    }

    pub fn realm_url(&self, realm: &str, path: &str) -> String {
        self.url(&format!(
            "/realms/{}{path}",
            crate::urls::encode_segment(realm)
        ))
    }

    /// The redirect to a page of the realm that follows a change.
    pub fn redirect(&self, realm: &str, path: &str) -> Response {
        Redirect::to(&self.realm_url(realm, path)).into_response()
    }
}

/// The status and message an `AdminError` stands for, for showing next to a field.
pub fn describe(e: AdminError) -> (StatusCode, String) {
    match e {
        AdminError::Unauthorized => (StatusCode::UNAUTHORIZED, "Please sign in again.".into()),
        AdminError::Forbidden => (
            StatusCode::FORBIDDEN,
            "You do not have the rights for this in this realm.".into(),
        ),
        AdminError::NotFound(m) => (StatusCode::NOT_FOUND, m.into()),
        AdminError::Conflict(m) => (StatusCode::CONFLICT, m),
        AdminError::Invalid(m) | AdminError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
        AdminError::Described(s, _, d) => (s, d),
        e @ AdminError::Internal(_) => {
            // Logged by the REST error mapping; the text never reaches the page.
            let _ = e.into_response();
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on the server; see its log.".into(),
            )
        }
    }
}

/// Why there is no console user: not signed in (go to the login), or a server error.
pub enum NoConsole {
    Login(String),
    Internal(String),
}

impl IntoResponse for NoConsole {
    fn into_response(self) -> Response {
        match self {
            NoConsole::Login(to) => Redirect::to(&to).into_response(),
            NoConsole::Internal(e) => AdminError::Internal(e).into_response(),
        }
    }
}
