//! Which requests a browser may make: a web page the user visits can send
//! requests to a server on the user's machine, by its own name bound to
//! `127.0.0.1` (DNS rebinding) or across sites. So the server answers only
//! `Host`s it is known by (loopback names, IP addresses, and the names a
//! deployment adds) and, from a browser, only the `Origin`s it was told,
//! with CORS for those; and, when the server has a token, only requests
//! that carry it. `/healthz` stays open for probes.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::reply::Failure;

/// The names and browser origins a server answers.
#[derive(Debug, Default)]
pub(super) struct Guard {
    /// Host names besides loopback names and IP addresses, lowercase;
    /// `*` for any.
    hosts: Vec<String>,
    /// Origins (`https://app.example`) whose pages may call; `*` for any.
    origins: Vec<String>,
    /// The token every request but `/healthz` must carry, if any.
    token: Option<Vec<u8>>,
}

impl Guard {
    pub(super) fn new(hosts: &[String], origins: &[String], token: Option<&str>) -> Arc<Self> {
        let lower = |names: &[String]| {
            names
                .iter()
                .map(|n| n.trim().trim_end_matches('/').to_ascii_lowercase())
                .collect()
        };
        Arc::new(Guard {
            hosts: lower(hosts),
            origins: lower(origins),
            token: token.map(|token| token.as_bytes().to_vec()),
        })
    }

    /// Whether the request's `Authorization` carries the server's token,
    /// compared in constant time; `true` when the server has none.
    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        let given = header_text(headers, header::AUTHORIZATION)
            .and_then(|value| value.strip_prefix("Bearer "))
            .unwrap_or_default()
            .as_bytes();
        // Every byte is compared, whatever differs first.
        let differs = given.len() != token.len();
        let mismatch = token
            .iter()
            .zip(given.iter().chain(std::iter::repeat(&0)))
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        !differs && mismatch == 0
    }

    /// Whether a request with this `Host` header is answered: a name
    /// (without its port) that is an IP address, `localhost` or under it,
    /// or one of the server's names.
    fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        let name = match host.strip_prefix('[') {
            Some(rest) => rest.split(']').next().unwrap_or_default(),
            None => match host.rsplit_once(':') {
                Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
                _ => host.as_str(),
            },
        };
        let name = name.trim_end_matches('.');
        name.parse::<IpAddr>().is_ok()
            || name == "localhost"
            || name.ends_with(".localhost")
            || self
                .hosts
                .iter()
                .any(|allowed| allowed == "*" || *allowed == name || *allowed == host)
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.trim().to_ascii_lowercase();
        self.origins
            .iter()
            .any(|allowed| allowed == "*" || *allowed == origin)
    }
}

/// `router` behind the checks of `guard`.
pub(super) fn layer(router: axum::Router, guard: &Arc<Guard>) -> axum::Router {
    router.layer(axum::middleware::from_fn_with_state(
        Arc::clone(guard),
        check,
    ))
}

/// Refuses requests by `Host` and `Origin` (`403`) and, when the server
/// has a token, those without it (`401`); answers the CORS preflight of
/// allowed origins, and marks their answers.
pub(super) async fn check(
    State(guard): State<Arc<Guard>>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path() == "/healthz" {
        return next.run(request).await;
    }
    let headers = request.headers();
    if let Some(host) = header_text(headers, header::HOST)
        && !guard.host_allowed(host)
    {
        return Failure::Forbidden(format!(
            "this server does not answer to the host `{}`; start it with \
             `--allowed-host NAME` for each name it is reached by",
            host.escape_debug()
        ))
        .into_response();
    }
    let preflight = request.method() == Method::OPTIONS
        && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    // A browser's preflight carries no credentials; what it asks about does.
    if !preflight && !guard.authorized(headers) {
        return Failure::Unauthorized.into_response();
    }
    let Some(origin) = header_text(headers, header::ORIGIN).map(str::to_owned) else {
        // Not from a browser's page: nothing more to check.
        return next.run(request).await;
    };
    if !guard.origin_allowed(&origin) {
        return Failure::Forbidden(format!(
            "this server does not answer pages of `{}`; start it with \
             `--allow-origin ORIGIN` for each origin whose pages may call it",
            origin.escape_debug()
        ))
        .into_response();
    }
    let mut response = match preflight {
        true => preflight_answer(headers),
        false => next.run(request).await,
    };
    let marks = response.headers_mut();
    if let Ok(origin) = HeaderValue::from_str(&origin) {
        marks.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    marks.append(header::VARY, HeaderValue::from_static("origin"));
    marks.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("retry-after, mcp-session-id"),
    );
    response
}

/// `204` to a preflight: the methods the server has, the headers asked
/// for, for ten minutes.
fn preflight_answer(headers: &HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let answer = response.headers_mut();
    answer.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
    );
    if let Some(asked) = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        answer.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    answer.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    response
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::Guard;

    #[test]
    fn hosts_are_loopback_names_ip_addresses_and_the_names_given() {
        let guard = Guard::new(&["api.example".to_owned()], &[], None);
        for host in [
            "localhost",
            "localhost:8000",
            "app.localhost:1",
            "127.0.0.1:8000",
            "10.0.0.5",
            "[::1]:8000",
            "API.example:443",
            "api.example.",
        ] {
            assert!(guard.host_allowed(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:8000",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "api.example.evil",
        ] {
            assert!(!guard.host_allowed(host), "{host}");
        }
        assert!(Guard::new(&["*".to_owned()], &[], None).host_allowed("any.example"));
    }

    #[test]
    fn origins_are_only_those_given() {
        let guard = Guard::new(&[], &["https://app.example/".to_owned()], None);
        assert!(guard.origin_allowed("https://APP.example"));
        assert!(!guard.origin_allowed("https://app.example:8443"));
        assert!(!guard.origin_allowed("null"));
        assert!(!Guard::new(&[], &[], None).origin_allowed("http://localhost:3000"));
    }

    #[test]
    fn only_the_server_s_token_is_authorized() {
        use axum::http::{HeaderMap, HeaderValue, header};
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::AUTHORIZATION,
                HeaderValue::from_str(value).expect("a value"),
            );
            headers
        };
        let guard = Guard::new(&[], &[], Some("s3cret"));
        assert!(guard.authorized(&with("Bearer s3cret")));
        for wrong in [
            "Bearer s3cre",
            "Bearer s3cret2",
            "Bearer S3cret",
            "s3cret",
            "Basic s3cret",
            "Bearer ",
        ] {
            assert!(!guard.authorized(&with(wrong)), "{wrong}");
        }
        assert!(!guard.authorized(&HeaderMap::new()));
        assert!(Guard::new(&[], &[], None).authorized(&HeaderMap::new()));
    }
}
