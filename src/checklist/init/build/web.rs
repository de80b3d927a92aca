//! Builders for HTTP endpoints: requests and statuses, health endpoints,
//! security headers, TLS, CORS, authentication and the HTTPS redirect.

use super::super::claims::{Facts, has_any};
use super::super::render::Node;
use super::super::rules::Draft;
use super::super::services;

/// Plain HTTP answers with a redirect to HTTPS.
pub fn https_redirect(f: &Facts) -> Option<Draft> {
    let mut d = Draft::new("http", Node::map());
    let url = d.var("http_url", "VOUCH_HTTP_URL", "http://127.0.0.1/");
    d.settings = Node::map()
        .with("url", Node::s(url))
        .with("follow_redirects", Node::s("false"))
        .with("expect/status", Node::list(["301", "308"]))
        .with("expect/headers/location/matches", Node::s("^https://"));
    let _ = f;
    Some(d.why("plain HTTP answers 301/308 with a `Location` on https://"))
}

/// Security headers: the baseline, or the rules the text names.
pub fn headers(f: &Facts) -> Option<Draft> {
    let named: Vec<&str> = [
        (&["hsts", "strict transport security"][..], "hsts"),
        (&["csp", "content security policy", "xss"][..], "csp"),
        (&["nosniff", "x content type options"][..], "nosniff"),
        (
            &["x frame options", "frame options", "clickjacking"][..],
            "frame_protection",
        ),
        (&["referrer policy"][..], "referrer_policy"),
        (&["x powered by"][..], "powered_by"),
        (&["server header"][..], "server"),
    ]
    .iter()
    .filter(|(words, _)| f.has(words))
    .map(|(_, rule)| *rule)
    .collect();
    let url = f.path().unwrap_or("/");
    let mut settings = Node::map().with("url", Node::s(url));
    let d = if named.is_empty() || f.has(&["security headers", "helmet"]) {
        settings.set("policy", Node::s("baseline"));
        Draft::new("headers", settings).why("the whole baseline: HSTS, nosniff, frame protection, CSP, Referrer-Policy, no X-Powered-By, no version in Server")
    } else {
        settings.set("baseline", Node::list(named.iter().copied()));
        Draft::new("headers", settings).why(format!(
            "the baseline rules the item names: {}",
            named.join(", ")
        ))
    };
    Some(d)
}

/// A TLS endpoint: trusted, hostname, days left, protocol.
pub fn tls(f: &Facts) -> Option<Draft> {
    let old_named = f.has(&[
        "tls 1 0", "tls 1 1", "tlsv1 0", "tlsv1 1", "sslv3", "ssl 3", "ssl v3",
    ]) || f.has(&["old", "legacy", "outdated", "deprecated", "insecure"])
        && f.has(&[
            "tls versions",
            "ssl versions",
            "protocols",
            "protocol versions",
        ]);
    if old_named && (f.negated || f.has(&["refused", "refuses", "rejected", "disallowed"])) {
        let mut versions = Vec::new();
        if f.has(&["sslv3", "ssl 3", "ssl v3", "ssl"]) {
            versions.push("SSLv3");
        }
        versions.extend(["TLSv1.0", "TLSv1.1"]);
        let settings = Node::map().with("expect/refuses", Node::list(versions.iter().copied()));
        return Some(Draft::new("tls", settings).why(format!(
            "each of {} offered alone is refused",
            versions.join(", ")
        )));
    }
    let mut settings = Node::map()
        .with("expect/trusted", Node::s("true"))
        .with("expect/hostname", Node::s("true"));
    let mut d =
        Draft::new("tls", Node::map()).why("the certificate is trusted and valid for the host");
    if let Some(days) = f.q.days {
        settings.set("expect/expires_in/min", Node::s(format!("{days}d")));
        d = d.why(format!("at least {days} days left"));
    } else if f.has(&[
        "renewal", "renew", "renewed", "expiry", "expiring", "expires",
    ]) {
        settings.set("expect/expires_in/min", Node::s("30d"));
        d = d
            .why("renewal working: at least 30 days left")
            .guessed("30 days");
    }
    for (words, version) in [
        (&["tls 1 3", "tlsv1 3"][..], "TLSv1.3"),
        (&["tls 1 2", "tlsv1 2"][..], "TLSv1.2"),
    ] {
        if f.has(words) {
            settings.set("expect/protocol/min", Node::s(version));
            d = d.why(format!("protocol at least {version}"));
            break;
        }
    }
    d.settings = settings;
    Some(d)
}

/// CORS: an allowed origin gets itself back, a foreign one nothing.
pub fn cors(f: &Facts) -> Option<Draft> {
    let mut d = Draft::new("cors", Node::map());
    let origin = d.var("app_origin", "APP_ORIGIN", "https://app.example");
    let mut settings = Node::map()
        .with("url", Node::s(f.path().unwrap_or("/")))
        .with("allowed_origins", Node::list([origin]));
    if let Some(m) = f.method.filter(|m| *m != "GET") {
        settings.set("method", Node::s(m));
    }
    if f.has(&["credentials"]) {
        settings.set("expect/credentials", Node::s("true"));
        d = d.why("credentials allowed for the allowed origin");
    }
    d.settings = settings;
    Some(
        d.why("the app's origin is allowed (itself, not `*`); https://evil.example is not")
            .guessed("the allowed origin"),
    )
}

/// API authentication: 401/403 without and with a wrong credential, 2xx with the right one.
pub fn auth(f: &Facts) -> Option<Draft> {
    if !f.services.is_empty()
        && services::named_in(&f.words)
            .iter()
            .any(|s| s.name != "prometheus")
    {
        return None;
    }
    let mut d = Draft::new("auth", Node::map());
    let mut settings = Node::map();
    match f.paths.as_slice() {
        [] if f.has(&["admin"]) => {
            settings.set("url", Node::s("/admin"));
            d = d.guessed("the path /admin");
        }
        [] => settings.set("url", Node::s("/")),
        [one] => settings.set("url", Node::s(one.clone())),
        many => settings.set("paths", Node::list(many.iter().cloned())),
    }
    if let Some(m) = f.method.filter(|m| *m != "GET") {
        settings.set("method", Node::s(m));
    }
    if f.has(&["api key", "api keys", "x api key"]) {
        settings.set("header/name", Node::s("X-API-Key"));
        settings.set("header/value", Node::s("${env:API_KEY:-change-me}"));
        d = d.why("the API key in `X-API-Key`, from $API_KEY");
    } else if f.has(&["basic"]) {
        settings.set("basic/user", Node::s("${env:API_USER:-change-me}"));
        settings.set("basic/password", Node::s("${env:API_PASSWORD:-change-me}"));
        d = d.why("HTTP Basic credentials from $API_USER/$API_PASSWORD");
    } else {
        settings.set("bearer", Node::s("${env:API_TOKEN:-change-me}"));
        d = d.why("a bearer token from $API_TOKEN");
    }
    d.settings = settings;
    Some(d.why("401/403 without and with a wrong credential, 2xx with the right one"))
}

/// `GET /x returns 200`: an explicit request and answer.
pub fn http_explicit(f: &Facts) -> Option<Draft> {
    let path = f.path()?;
    let status = f.q.status;
    let about_health = has_any(
        &f.words,
        &[
            "health",
            "healthy",
            "deps",
            "dependencies",
            "readiness",
            "liveness",
        ],
    );
    if status.is_none() && (f.method.is_none() || about_health) {
        return None;
    }
    let about_auth = f.has(&[
        "unauthenticated",
        "unauthorized",
        "authentication",
        "auth",
        "token",
        "api key",
    ]);
    if f.method.is_none() && about_auth {
        // "Unauthenticated requests to `/graphql` get 401": an `auth` probe
        // checks the wrong and the right credential too.
        return None;
    }
    let method = f.method.unwrap_or("GET");
    let mut settings = Node::map().with(&method.to_ascii_lowercase(), Node::s(path));
    let mut d =
        Draft::new("http", Node::map()).why(format!("{method} {path}, as the item writes it"));
    if let Some(status) = status {
        settings.set("expect/status", Node::s(status.to_string()));
        d = d.why(format!("status {status}"));
    } else {
        d = d.why("any 2xx or 3xx (the item names no status)");
    }
    if let Some(max) = &f.q.latency {
        settings.set("expect/latency/max", Node::s(max.clone()));
        d = d.why(format!("latency at most {max}"));
    }
    d.settings = settings;
    Some(d)
}

/// A health endpoint: status healthy, dependencies as the text says.
pub fn health(f: &Facts) -> Option<Draft> {
    let path = f
        .paths
        .iter()
        .find(|p| {
            has_any(
                &format!(" {} ", crate::checklist::normalize(p)),
                &[
                    "health", "healthz", "ready", "readyz", "live", "livez", "status",
                ],
            )
        })
        .or(f.paths.first())
        .map_or("/health", String::as_str);
    if f.has(&["ready", "live"])
        && !f.has(&[
            "health",
            "healthy",
            "readiness",
            "liveness",
            "health check",
            "health checks",
        ])
        && f.paths.is_empty()
    {
        return None;
    }
    let mut settings = Node::map().with("url", Node::s(path));
    let mut d = Draft::new("health", Node::map()).why(format!("`{path}` reports healthy"));
    let named: Vec<&str> = f
        .services
        .iter()
        .map(|s| s.name)
        .filter(|n| *n != "prometheus")
        .collect();
    if !named.is_empty() && services::named_in(&f.words).len() == f.services.len() {
        settings.set("expect/dependencies", Node::list(named.iter().copied()));
        d = d.why(format!("dependencies {} healthy", named.join(", ")));
    } else if f.has(&[
        "deps",
        "dependencies",
        "dependency",
        "all healthy",
        "readiness",
        "ready",
    ]) {
        settings.set("expect/dependencies", Node::s("all_healthy"));
        d = d.why("every dependency healthy");
    }
    if let Some(max) = &f.q.latency {
        settings.set("expect/latency/max", Node::s(max.clone()));
        d = d.why(format!("latency at most {max}"));
    }
    if f.paths.is_empty() {
        d = d.guessed("the path /health");
    }
    d.settings = settings;
    Some(d)
}

/// An endpoint: answered, or — negated — refused.
pub fn http(f: &Facts) -> Option<Draft> {
    if f.has(&["stack traces", "stack trace"]) {
        let settings = Node::map()
            .with("get", Node::s("/vouch-probe-not-found"))
            .with("expect/status", Node::s("404"));
        return Some(
            Draft::new("http", settings)
                .why("an error answer; vouch cannot yet assert that a body does not contain a text")
                .todo("check the error body holds no stack trace (`expect.body`)"),
        );
    }
    let guessed_path = if f.has(&["debug", "pprof"]) {
        Some("/debug/pprof/")
    } else if f.has(&["actuator"]) {
        Some("/actuator")
    } else if f.has(&["swagger", "openapi"]) {
        Some("/openapi.json")
    } else if f.has(&["version"]) {
        Some("/version")
    } else {
        None
    };
    let path = f
        .path()
        .or(guessed_path.filter(|_| f.negated || f.has(&["endpoint", "endpoints"])))?;
    let method = f.method.unwrap_or("GET");
    let mut settings = Node::map().with(&method.to_ascii_lowercase(), Node::s(path));
    let mut d = Draft::new("http", Node::map());
    if f.negated {
        settings.set("expect/status", Node::list(["401", "403", "404"]));
        d = d.why(format!(
            "{method} {path} must be refused or absent: 401, 403 or 404"
        ));
    } else {
        settings.set(
            "expect/status",
            Node::s(f.q.status.unwrap_or(200).to_string()),
        );
        d = d.why(format!(
            "{method} {path} answers {}",
            f.q.status.unwrap_or(200)
        ));
    }
    if f.path().is_none() {
        d = d.guessed(format!("the path {path}"));
    }
    d.settings = settings;
    Some(d)
}
