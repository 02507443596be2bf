//! Linking Slack users to Herald principals, explicitly. `/herald link` answers with a
//! one-time URL (ten minutes); the Herald user confirms it signed in, through
//! `POST /v1/slack/links/confirm` or the page at that URL. An admin can also link users with
//! `POST /v1/slack/links`. Commands and approvals then act as the linked principal.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Json};
use chrono::{DateTime, Duration, Utc};
use herald_domain::error::error_chain;
use herald_domain::{OrgId, Permission, PrincipalId};
use herald_server::app::{audit, caller_for_token, Caller};
use herald_server::error::{ApiError, ErrorBody};
use herald_server::extract::ApiJson;
use herald_store::{SlackInstallation, SlackLinkCode, SlackUserLink};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::commands::{Answer, Invocation};
use crate::pages::{escape, page};
use crate::stores::random_code;
use crate::SlackApp;

/// How long a `/herald link` URL works.
const CODE_TTL: Duration = Duration::minutes(10);

/// Who a Slack user acts as.
pub(crate) enum Acting {
    Linked {
        caller: Box<Caller>,
        installation: Box<SlackInstallation>,
    },
    /// The workspace is connected, the user is not linked (in any organisation it is
    /// connected to).
    NotLinked,
    NotInstalled,
}

/// The principal a Slack user acts as, and the workspace's integration in that principal's
/// organisation. The newest link wins when a user is linked in several organisations that
/// connected the same workspace.
pub(crate) async fn acting_as(
    app: &SlackApp,
    team_id: &str,
    user_id: &str,
) -> Result<Acting, String> {
    let installations = app
        .installations
        .of_team(team_id)
        .await
        .map_err(|e| error_chain(&e))?;
    if installations.is_empty() {
        return Ok(Acting::NotInstalled);
    }
    let links = app
        .engine()
        .store()
        .slack_links_of_user(team_id, user_id)
        .await
        .map_err(|e| error_chain(&e))?;
    for link in links {
        let Some(installation) = installations.iter().find(|i| i.org_id == link.org_id) else {
            continue;
        };
        let source = format!("slack:{team_id}/{user_id}");
        match Caller::for_principal(&app.state, &link.org_id, &link.principal_id, source).await {
            Ok(Some(caller)) => {
                return Ok(Acting::Linked {
                    caller: Box::new(caller),
                    installation: Box::new(installation.clone()),
                })
            }
            Ok(None) => continue,
            Err(error) => return Err(error.to_string()),
        }
    }
    Ok(Acting::NotLinked)
}

/// `/herald link`: a one-time URL for the person to confirm, signed in to Herald.
pub(crate) async fn start(app: &SlackApp, invocation: &Invocation) -> Answer {
    let code = random_code();
    let row = SlackLinkCode {
        code_hash: herald_crypto::hash_token(&code),
        team_id: invocation.team_id.clone(),
        slack_user_id: invocation.user_id.clone(),
        slack_user_name: Some(invocation.user_name.clone()).filter(|n| !n.is_empty()),
        expires_at: app.now() + CODE_TTL,
    };
    if let Err(error) = app.engine().store().insert_slack_link_code(&row).await {
        tracing::error!(error = %error_chain(&error), "could not store a Slack link code");
        return Answer::ephemeral("Herald could not make a link just now. Please try again.");
    }
    let url = app.config.public(&format!("/slack/link?code={code}"));
    let api = app.config.public("/v1/slack/links/confirm");
    Answer::ephemeral(format!(
        "To link your Slack account to your Herald user, open <{url}|this link> and confirm, signed in to Herald. \
         It works once, for 10 minutes, and only you can see it.\n\
         Or confirm with the API: `curl -X POST {api} -H \"Authorization: Bearer $HERALD_TOKEN\" -H 'content-type: application/json' -d '{{\"code\": \"{code}\"}}'`"
    ))
}

/// A link as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SlackLinkView {
    id: String,
    team_id: String,
    slack_user_id: String,
    slack_user_name: Option<String>,
    principal_id: String,
    /// The principal that confirmed or made the link.
    linked_by: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<SlackUserLink> for SlackLinkView {
    fn from(link: SlackUserLink) -> Self {
        Self {
            id: link.id,
            team_id: link.team_id,
            slack_user_id: link.slack_user_id,
            slack_user_name: link.slack_user_name,
            principal_id: link.principal_id.to_string(),
            linked_by: link.linked_by.map(|p| p.to_string()),
            created_at: link.created_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SlackLinkList {
    data: Vec<SlackLinkView>,
}

/// An admin links a Slack user to a principal of the organisation.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSlackLink {
    /// The Slack workspace (`T…`); it must be connected to this organisation.
    team_id: String,
    /// The Slack user (`U…`).
    slack_user_id: String,
    slack_user_name: Option<String>,
    principal_id: String,
}

/// The code from a `/herald link` URL.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmSlackLink {
    code: String,
}

fn slack_id(field: &str, raw: &str) -> Result<String, ApiError> {
    let ok = !raw.is_empty() && raw.len() <= 32 && raw.bytes().all(|b| b.is_ascii_alphanumeric());
    ok.then(|| raw.to_owned())
        .ok_or_else(|| ApiError::invalid(field, "must be a Slack id such as T0123ABCD"))
}

/// The workspace must be connected to the caller's organisation: a link elsewhere would act
/// nowhere, and must not reach another tenant's workspace.
async fn require_installed(app: &SlackApp, org: &OrgId, team_id: &str) -> Result<(), ApiError> {
    match app.installations.in_org(org, team_id).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::invalid(
            "team_id",
            "this Slack workspace is not connected to your organisation (Add to Slack first)",
        )),
    }
}

async fn save(
    app: &SlackApp,
    caller: &Caller,
    team_id: String,
    slack_user_id: String,
    slack_user_name: Option<String>,
    principal_id: PrincipalId,
) -> Result<SlackUserLink, ApiError> {
    let link = SlackUserLink {
        id: format!("slk_{}", uuid::Uuid::now_v7().simple()),
        org_id: caller.org_id.clone(),
        team_id,
        slack_user_id,
        slack_user_name,
        principal_id,
        linked_by: caller.principal_id.clone(),
        created_at: app.now(),
    };
    app.engine().store().save_slack_link(&link).await?;
    audit(
        &app.state,
        caller,
        "slack_link.create",
        ("slack_link", &link.id),
        Some(
            json!({"team_id": link.team_id, "slack_user_id": link.slack_user_id,
                    "principal_id": link.principal_id}),
        ),
    )
    .await;
    Ok(link)
}

#[utoipa::path(post, path = "/v1/slack/links", tag = "slack", security(("bearer" = ["principal.manage"])),
    request_body = CreateSlackLink,
    responses((status = 201, body = SlackLinkView), (status = 422, body = ErrorBody)))]
pub async fn create(
    Extension(app): Extension<Arc<SlackApp>>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<CreateSlackLink>,
) -> Result<(StatusCode, Json<SlackLinkView>), ApiError> {
    caller.require(Permission::PrincipalManage)?;
    let team_id = slack_id("team_id", &body.team_id)?;
    let user_id = slack_id("slack_user_id", &body.slack_user_id)?;
    let principal = PrincipalId::parse(&body.principal_id)
        .ok_or_else(|| ApiError::invalid("principal_id", "no such principal"))?;
    app.engine()
        .store()
        .get_principal(&caller.org_id, &principal)
        .await?
        .ok_or_else(|| ApiError::invalid("principal_id", "no such principal"))?;
    require_installed(&app, &caller.org_id, &team_id).await?;
    let link = save(
        &app,
        &caller,
        team_id,
        user_id,
        body.slack_user_name,
        principal,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(link.into())))
}

#[utoipa::path(get, path = "/v1/slack/links", tag = "slack", security(("bearer" = ["principal.read"])),
    responses((status = 200, body = SlackLinkList)))]
pub async fn list(
    Extension(app): Extension<Arc<SlackApp>>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<SlackLinkList>, ApiError> {
    caller.require(Permission::PrincipalRead)?;
    let links = app
        .engine()
        .store()
        .list_slack_links(&caller.org_id)
        .await?;
    Ok(Json(SlackLinkList {
        data: links.into_iter().map(Into::into).collect(),
    }))
}

#[utoipa::path(delete, path = "/v1/slack/links/{id}", tag = "slack", security(("bearer" = ["principal.manage"])),
    params(("id" = String, Path)), responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    Extension(app): Extension<Arc<SlackApp>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::PrincipalManage)?;
    if !app
        .engine()
        .store()
        .delete_slack_link(&caller.org_id, &id)
        .await?
    {
        return Err(ApiError::NotFound("slack link"));
    }
    audit(
        &app.state,
        &caller,
        "slack_link.delete",
        ("slack_link", &id),
        None,
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/slack/links/confirm", tag = "slack", security(("bearer" = [])),
    request_body = ConfirmSlackLink,
    responses((status = 201, body = SlackLinkView), (status = 422, body = ErrorBody)))]
pub async fn confirm(
    Extension(app): Extension<Arc<SlackApp>>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<ConfirmSlackLink>,
) -> Result<(StatusCode, Json<SlackLinkView>), ApiError> {
    let link = confirm_code(&app, &caller, &body.code).await?;
    Ok((StatusCode::CREATED, Json(link.into())))
}

/// Links the Slack user a code was issued to, to the caller's own principal.
async fn confirm_code(
    app: &SlackApp,
    caller: &Caller,
    code: &str,
) -> Result<SlackUserLink, ApiError> {
    let principal = caller.principal_id.clone().ok_or_else(|| {
        ApiError::invalid(
            "code",
            "only a principal's token can link a Slack account to it",
        )
    })?;
    let unusable = || {
        ApiError::invalid(
            "code",
            "is unknown, already used or expired; type `/herald link` again",
        )
    };
    let row = app
        .engine()
        .store()
        .take_slack_link_code(&herald_crypto::hash_token(code.trim()))
        .await?
        .ok_or_else(unusable)?;
    if row.expires_at < app.now() {
        return Err(unusable());
    }
    require_installed(app, &caller.org_id, &row.team_id).await?;
    save(
        app,
        caller,
        row.team_id,
        row.slack_user_id,
        row.slack_user_name,
        principal,
    )
    .await
}

/// `GET /slack/link?code=…`: where `/herald link` sends the person. Someone signed in to the
/// console confirms with one click (the session says who they are); anyone else signs in first,
/// or confirms with a Herald API token of their own.
pub async fn link_page(
    State(app): State<Arc<SlackApp>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let code = query.get("code").map(String::as_str).unwrap_or_default();
    if code.is_empty() {
        return page(
            StatusCode::BAD_REQUEST,
            "This link is not valid",
            &["It has no code. Type /herald link in Slack again.".into()],
            "",
        );
    }
    let intro = "Confirm that the Slack user who typed /herald link is you. Herald will then act as \
                 your Herald user for /herald commands and approvals from Slack, with your permissions.";
    let session = herald_console::current_session(&app.state, &headers, None)
        .await
        .ok()
        .flatten();
    let form = match session {
        Some(session) => format!(
            "<form method=\"post\" action=\"link\"><input type=\"hidden\" name=\"code\" value=\"{}\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\"><p>Signed in to Herald as <strong>{}</strong>.</p>\
             <p><button type=\"submit\">Link my Slack account</button></p></form>",
            escape(code),
            escape(&session.csrf),
            escape(&session.display_name)
        ),
        None => {
            let back = format!("/slack/link?code={}", encode(code));
            format!(
                "<p><a href=\"/sign-in?next={}\">Sign in to Herald</a> to confirm, or confirm with an API token of your own:</p>\
                 <form method=\"post\" action=\"link\"><input type=\"hidden\" name=\"code\" value=\"{}\">\
                 <p><label>Your Herald API token<br><input type=\"password\" name=\"token\" required \
                 autocomplete=\"off\" size=\"50\"></label></p><p><button type=\"submit\">Link my Slack account</button></p></form>",
                escape(&encode(&back)),
                escape(code)
            )
        }
    };
    page(
        StatusCode::OK,
        "Link your Slack account",
        &[intro.into()],
        &form,
    )
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[derive(Deserialize)]
pub struct PageForm {
    code: String,
    /// With a console session: its CSRF token, which proves the form came from this page.
    #[serde(default)]
    csrf: Option<String>,
    /// Without one: an API token of the person's own.
    #[serde(default)]
    token: Option<String>,
}

/// The page's form: the console session, or else the token, says who the person is in Herald.
pub async fn page_confirm(
    State(app): State<Arc<SlackApp>>,
    headers: HeaderMap,
    Form(form): Form<PageForm>,
) -> Response {
    let not_linked = |why: &str| {
        page(
            StatusCode::UNAUTHORIZED,
            "Not linked",
            &[format!("{why} Nothing was changed.")],
            "",
        )
    };
    let caller =
        match (&form.csrf, &form.token) {
            (Some(csrf), _) => {
                match herald_console::current_session(&app.state, &headers, None).await {
                Ok(Some(session)) if session.csrf_matches(csrf) => session.caller,
                _ => return not_linked("Your Herald session has ended, or this form is not from this page; open the link from Slack again."),
            }
            }
            (None, Some(token)) => match caller_for_token(&app.state, token.trim(), None).await {
                Ok(caller) => caller,
                Err(_) => return not_linked("That is not a valid Herald API token."),
            },
            (None, None) => return not_linked("Sign in to Herald, or give an API token."),
        };
    match confirm_code(&app, &caller, &form.code).await {
        Ok(link) => page(
            StatusCode::OK,
            "Linked",
            &[format!(
                "The Slack user {} is now linked to your Herald user. Back in Slack, try /herald subscribe iac.run.*.",
                link.slack_user_name.unwrap_or(link.slack_user_id)
            )],
            "",
        ),
        Err(error) => page(
            StatusCode::BAD_REQUEST,
            "Not linked",
            &[format!("{error}. Nothing was changed.")],
            "",
        ),
    }
}
