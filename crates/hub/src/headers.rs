//! Response headers every hub answer carries: no MIME sniffing, never framed, and pages run
//! only their own inline script and style (named by hash), so injected markup cannot run.

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use sha2::{Digest, Sha256};

/// What an answer that is not a page may do: nothing.
const LOCKED_DOWN: &str = "default-src 'none'; frame-ancestors 'none'";

pub(super) async fn secure_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(LOCKED_DOWN));
    // not "no-referrer": under it a browser sends `Origin: null` with the login form, and
    // the login's same-origin check would refuse every reviewer
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// On a hub serving TLS itself: browsers that have seen it once keep to https for a year, so a
/// reviewer's later `http://` link or a stranger on the path cannot strip the TLS off and read
/// the session cookie. Not sent over plain http (a browser ignores it there; a TLS proxy in
/// front sets its own).
pub(super) async fn strict_transport(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response.headers_mut().insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    );
    response
}

/// The Content-Security-Policy of a page whose only script and style are inline in `html`.
pub(super) fn page_policy(html: &str) -> String {
    let inline = |open: &str, close: &str| -> String {
        html.split(open)
            .skip(1)
            .filter_map(|rest| rest.split(close).next())
            .map(|body| {
                let digest = Sha256::digest(body.as_bytes());
                format!(
                    " 'sha256-{}'",
                    base64::engine::general_purpose::STANDARD.encode(digest)
                )
            })
            .collect()
    };
    let scripts = inline("<script>", "</script>");
    let styles = inline("<style>", "</style>");
    format!(
        "default-src 'none'; script-src{}; style-src{}; img-src 'self'; connect-src 'self'; \
         form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        if scripts.is_empty() {
            " 'none'"
        } else {
            &scripts
        },
        if styles.is_empty() {
            " 'none'"
        } else {
            &styles
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_each_inline_block_by_its_hash() {
        let p = page_policy("<style>a{}</style><script>go()</script>");
        let hash = |s: &str| {
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(s.as_bytes()))
        };
        assert!(
            p.contains(&format!("script-src 'sha256-{}'", hash("go()"))),
            "{p}"
        );
        assert!(
            p.contains(&format!("style-src 'sha256-{}'", hash("a{}"))),
            "{p}"
        );
        assert!(p.contains("frame-ancestors 'none'"));
        assert!(page_policy("<p>plain</p>").contains("script-src 'none'"));
    }
}
