//! `image` probes end to end: the real `vouch` binary against real
//! registries (Debian's docker-registry) started by `scripts/registry.sh`
//! and filled with images built FROM scratch by buildah —
//! `VOUCH_TEST_REGISTRY` (anonymous), `VOUCH_TEST_REGISTRY_BASIC` (htpasswd),
//! `VOUCH_TEST_REGISTRY_TOKEN` (token auth through a loopback token server),
//! `VOUCH_TEST_REGISTRY_PASSWORD_FILE` — and in-process registry-shaped
//! servers for what a real registry does not do: a token echoed back, tag
//! pages, and hostile answers (a huge manifest, one that is not JSON, a
//! redirect loop, a digest that does not match).
//!
//! Without a peer's variable its tests print a note and pass, unless
//! `VOUCH_REQUIRE_PEERS` is set (the test script sets it): then they fail.

#[path = "support/server.rs"]
mod server;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use server::{
    Output, Server, Vouch, check_of, item_of, json, probe_of, respond, with_header, write_file,
};

/// A peer's address from the environment, or `None` with a note.
fn peer(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => Some(value),
        _ if std::env::var_os("VOUCH_REQUIRE_PEERS").is_some() => {
            panic!(
                "{var} is not set, and VOUCH_REQUIRE_PEERS is: scripts/test.sh starts the peer and sets it"
            )
        }
        _ => {
            eprintln!(
                "note: {var} is not set; skipping (scripts/test.sh starts the peer and sets it)"
            );
            None
        }
    }
}

/// The test registries' password (a fixture generated per run).
fn password() -> Option<String> {
    let file = peer("VOUCH_TEST_REGISTRY_PASSWORD_FILE")?;
    Some(
        std::fs::read_to_string(file)
            .expect("read the registry password file")
            .trim()
            .to_owned(),
    )
}

/// Runs `items` (YAML under `items:`), with `env` set, and returns the
/// output, the report and its raw text.
fn run(items: &str, env: &[(&str, &str)]) -> (Output, Value, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = format!("version: 1\nname: image test\ndefaults:\n  timeout: 5s\nitems:\n{items}");
    let file = write_file(dir.path(), "probes.yaml", &yaml);
    let mut vouch = Vouch::new([
        "run",
        "--format",
        "json",
        "--concurrency",
        "1",
        file.to_str().expect("utf-8 path"),
    ])
    .current_dir(dir.path());
    for (name, value) in env {
        vouch = vouch.env(name, value);
    }
    let out = vouch.run();
    let report = out.json();
    let text = report.to_string();
    (out, report, text)
}

fn actual<'p>(probe: &'p Value, check: &str) -> &'p str {
    check_of(probe, check)["actual"].as_str().expect("actual")
}

fn passed(probe: &Value, check: &str) -> bool {
    check_of(probe, check)["passed"] == true
}

#[test]
fn the_issue_example_holds_for_a_non_root_image_with_a_health_check() {
    let Some(registry) = peer("VOUCH_TEST_REGISTRY") else {
        return;
    };
    let items = format!(
        r#"  - item: API image ready for production
    probes:
      - image:
          ref: {registry}/vouch/app:1.4.2
          plain_http: true
          expect:
            exists: true
            user: {{ ne: root }}
            healthcheck: true
            size: {{ max: 200MiB }}
            layers: {{ max: 30 }}
            created: {{ max: 90d }}
            labels: {{ org.opencontainers.image.source: {{ exists: true }} }}
            tags: {{ contains: [1.4.1] }}
"#
    );
    let (out, report, _) = run(&items, &[]);
    out.assert_code(0);
    let probe = probe_of(&report, "API image ready for production");
    assert_eq!(probe["verdict"], "pass", "{probe:#}");
    assert_eq!(actual(probe, "user"), r#"65532 (User "65532:65532")"#);
    assert_eq!(actual(probe, "healthcheck"), "CMD /hello (every 30s)");
    assert_eq!(actual(probe, "layers"), "1");
    assert!(
        actual(probe, "size").ends_with(" in 1 layers, compressed"),
        "{probe:#}"
    );
    assert_eq!(
        actual(probe, "label org.opencontainers.image.source"),
        r#""https://example.invalid/vouch""#
    );
    assert_eq!(actual(probe, "tags"), "all listed among 2 tags");
    let evidence = &probe["evidence"];
    assert_eq!(evidence["config"]["format"], "docker");
    assert_eq!(evidence["config"]["platform"], "linux/amd64");
    let mut listed: Vec<&str> = evidence["tags"]["listed"]
        .as_array()
        .expect("listed tags")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    listed.sort_unstable();
    assert_eq!(listed, ["1.4.1", "1.4.2"]);
    assert_eq!(evidence["auth"], "none");
    // Manifest, config, one tag page.
    assert_eq!(evidence["requests"], 3);
    let digest = evidence["digest"].as_str().expect("digest");
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    assert!(
        probe["summary"]
            .as_str()
            .expect("summary")
            .starts_with(&format!(
                "image {registry}/vouch/app:1.4.2 → {}: 8/8 checks held",
                &digest[..19]
            )),
        "{probe:#}"
    );
}

#[test]
fn a_root_oci_image_from_1970_fails_each_expectation_and_says_why() {
    let Some(registry) = peer("VOUCH_TEST_REGISTRY") else {
        return;
    };
    let items = format!(
        r#"  - item: Root image
    probes:
      - image:
          ref: {registry}/vouch/root:1
          plain_http: true
          expect:
            user: {{ ne: root }}
            healthcheck: true
            created: {{ max: 90d }}
            labels: {{ org.opencontainers.image.source: {{ exists: true }} }}
            layers: {{ max: 30 }}
"#
    );
    let (out, report, _) = run(&items, &[]);
    out.assert_code(1);
    let probe = probe_of(&report, "Root image");
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    assert_eq!(actual(probe, "user"), "root (no User set)");
    assert!(!passed(probe, "user"));
    assert_eq!(
        actual(probe, "healthcheck"),
        "none: the config is OCI format, which has no health check field (build with `--format docker`)"
    );
    assert!(!passed(probe, "healthcheck"));
    assert!(
        actual(probe, "created").ends_with("ago (1970-01-01T00:00:00Z)"),
        "{probe:#}"
    );
    assert!(!passed(probe, "created"));
    assert_eq!(
        actual(probe, "label org.opencontainers.image.source"),
        "absent"
    );
    assert!(passed(probe, "layers"));
    assert_eq!(probe["evidence"]["config"]["format"], "oci");
}

#[test]
fn a_multi_platform_index_gives_each_platform_its_own_manifest() {
    let Some(registry) = peer("VOUCH_TEST_REGISTRY") else {
        return;
    };
    let items = format!(
        r#"  - item: Default platform
    probes:
      - image: {{ ref: "{registry}/vouch/multi:1", plain_http: true, expect: {{ user: {{ ne: root }}, platforms: [linux/amd64, linux/arm64] }} }}
  - item: arm64
    probes:
      - image: {{ ref: "{registry}/vouch/multi:1", plain_http: true, platform: linux/arm64, expect: {{ user: root }} }}
  - item: s390x
    probes:
      - image: {{ ref: "{registry}/vouch/multi:1", plain_http: true, platform: linux/s390x, expect: {{ user: root, platforms: [linux/s390x] }} }}
"#
    );
    let (out, report, _) = run(&items, &[]);
    out.assert_code(1);
    let amd64 = probe_of(&report, "Default platform");
    assert_eq!(amd64["verdict"], "pass", "{amd64:#}");
    assert_eq!(actual(amd64, "user"), r#"1000 (User "1000")"#);
    assert_eq!(actual(amd64, "platforms"), "linux/amd64, linux/arm64");
    let evidence = &amd64["evidence"];
    assert_eq!(
        evidence["media_type"],
        "application/vnd.oci.image.index.v1+json"
    );
    assert_eq!(evidence["platform"], "linux/amd64");
    assert_eq!(evidence["config"]["platform"], "linux/amd64");
    assert_ne!(evidence["digest"], evidence["manifest"]["digest"]);

    let arm64 = probe_of(&report, "arm64");
    assert_eq!(arm64["verdict"], "pass", "{arm64:#}");
    assert_eq!(actual(arm64, "user"), "root (no User set)");
    assert_eq!(arm64["evidence"]["config"]["platform"], "linux/arm64");
    assert_ne!(
        arm64["evidence"]["manifest"]["digest"],
        evidence["manifest"]["digest"]
    );

    let s390x = probe_of(&report, "s390x");
    assert_eq!(s390x["verdict"], "fail", "{s390x:#}");
    assert_eq!(
        actual(s390x, "platform"),
        "not listed (the index lists linux/amd64, linux/arm64)"
    );
    assert_eq!(
        actual(s390x, "platforms"),
        "missing linux/s390x (listed: linux/amd64, linux/arm64)"
    );
    assert_eq!(
        actual(s390x, "user"),
        "not checked: no linux/s390x manifest"
    );
}

#[test]
fn a_ref_by_digest_is_checked_against_the_bytes_served() {
    let Some(registry) = peer("VOUCH_TEST_REGISTRY") else {
        return;
    };
    let items = format!(
        "  - item: By tag\n    probes:\n      - image: {{ ref: \"{registry}/vouch/app:1.4.2\", plain_http: true }}\n"
    );
    let (_, report, _) = run(&items, &[]);
    let digest = probe_of(&report, "By tag")["evidence"]["digest"]
        .as_str()
        .expect("digest")
        .to_owned();
    let other = format!("sha256:{}", "0".repeat(64));
    let items = format!(
        r#"  - item: By digest
    probes:
      - image: {{ ref: "{registry}/vouch/app@{digest}", plain_http: true, expect: {{ exists: true }} }}
  - item: Unknown digest
    probes:
      - image: {{ ref: "{registry}/vouch/app@{other}", plain_http: true, expect: {{ exists: true }} }}
  - item: Unknown tag
    probes:
      - image: {{ ref: "{registry}/vouch/app:9.9.9", plain_http: true, expect: {{ exists: true, user: {{ ne: root }} }} }}
  - item: Gone, as wanted
    probes:
      - image: {{ ref: "{registry}/vouch/never-pushed:1", plain_http: true, expect: {{ exists: false }} }}
"#
    );
    let (out, report, _) = run(&items, &[]);
    out.assert_code(1);
    let by_digest = probe_of(&report, "By digest");
    assert_eq!(by_digest["verdict"], "pass", "{by_digest:#}");
    assert!(
        actual(by_digest, "exists").starts_with(&digest),
        "{by_digest:#}"
    );
    let unknown = probe_of(&report, "Unknown digest");
    assert_eq!(unknown["verdict"], "fail", "{unknown:#}");
    assert!(
        actual(unknown, "exists").starts_with("absent (404 MANIFEST_UNKNOWN"),
        "{unknown:#}"
    );
    let tag = probe_of(&report, "Unknown tag");
    assert!(
        actual(tag, "exists").starts_with("absent (404 MANIFEST_UNKNOWN"),
        "{tag:#}"
    );
    assert_eq!(actual(tag, "user"), "not checked: no manifest");
    let gone = probe_of(&report, "Gone, as wanted");
    assert_eq!(gone["verdict"], "pass", "{gone:#}");
    assert!(
        actual(gone, "exists").starts_with("absent (404 "),
        "{gone:#}"
    );
}

#[test]
fn an_htpasswd_registry_wants_basic_credentials_and_never_shows_them() {
    let (Some(registry), Some(password)) = (peer("VOUCH_TEST_REGISTRY_BASIC"), password()) else {
        return;
    };
    let items = format!(
        r#"  - item: With credentials
    probes:
      - image: {{ ref: "{registry}/vouch/app:1.4.2", plain_http: true, basic: {{ user: vouch, password: "${{secret:REGISTRY_PASSWORD}}" }}, expect: {{ user: {{ ne: root }}, tags: {{ contains: "1.4.1" }} }} }}
  - item: Without
    probes:
      - image: {{ ref: "{registry}/vouch/app:1.4.2", plain_http: true }}
  - item: Wrong password
    probes:
      - image: {{ ref: "{registry}/vouch/app:1.4.2", plain_http: true, basic: {{ user: vouch, password: "${{secret:WRONG_PASSWORD}}" }} }}
"#
    );
    let (out, report, text) = run(
        &items,
        &[
            ("REGISTRY_PASSWORD", &password),
            ("WRONG_PASSWORD", "not-the-password-0"),
        ],
    );
    out.assert_code(1);
    assert!(!text.contains(&password), "the password leaked: {text}");
    assert!(!out.dump().contains(&password), "the password leaked");
    let with = probe_of(&report, "With credentials");
    assert_eq!(with["verdict"], "pass", "{with:#}");
    assert_eq!(with["evidence"]["auth"], "basic");
    let without = probe_of(&report, "Without");
    assert_eq!(without["verdict"], "fail", "{without:#}");
    assert_eq!(
        actual(without, "exists"),
        "401 UNAUTHORIZED: authentication required; the registry asks for HTTP Basic credentials: give `basic: {user, password}`"
    );
    let wrong = probe_of(&report, "Wrong password");
    assert_eq!(
        actual(wrong, "exists"),
        "401 UNAUTHORIZED: authentication required; the credentials were refused"
    );
}

#[test]
fn a_token_auth_registry_sends_vouch_to_its_realm_and_the_token_stays_hidden() {
    let (Some(registry), Some(password)) = (peer("VOUCH_TEST_REGISTRY_TOKEN"), password()) else {
        return;
    };
    let items = format!(
        r#"  - item: With credentials
    probes:
      - image: {{ ref: "{registry}/vouch/app:1.4.2", plain_http: true, basic: {{ user: vouch, password: "${{secret:REGISTRY_PASSWORD}}" }}, expect: {{ healthcheck: true, tags: {{ contains: [1.4.1, 1.4.2] }} }} }}
  - item: Again, the token held
    probes:
      - image: {{ ref: "{registry}/vouch/app:1.4.1", plain_http: true, basic: {{ user: vouch, password: "${{secret:REGISTRY_PASSWORD}}" }} }}
  - item: Without
    probes:
      - image: {{ ref: "{registry}/vouch/app:1.4.2", plain_http: true }}
  - item: Wrong password
    probes:
      - image: {{ ref: "{registry}/vouch/app:1.4.2", plain_http: true, basic: {{ user: vouch, password: "${{secret:WRONG_PASSWORD}}" }} }}
"#
    );
    let (out, report, text) = run(
        &items,
        &[
            ("REGISTRY_PASSWORD", &password),
            ("WRONG_PASSWORD", "not-the-password-0"),
        ],
    );
    out.assert_code(1);
    assert!(!text.contains(&password), "the password leaked: {text}");
    // A JWT starts with the base64 of `{"`.
    assert!(!text.contains("eyJ"), "a token leaked: {text}");
    let with = probe_of(&report, "With credentials");
    assert_eq!(with["verdict"], "pass", "{with:#}");
    let auth = &with["evidence"]["auth"];
    assert_eq!(auth["scheme"], "bearer", "{with:#}");
    assert_eq!(auth["service"], "vouch-test-registry");
    assert_eq!(auth["scope"], "repository:vouch/app:pull");
    assert_eq!(auth["token"], "fetched");
    // 401, token, manifest, config, tag page.
    assert_eq!(with["evidence"]["requests"], 5);
    let again = probe_of(&report, "Again, the token held");
    assert_eq!(again["verdict"], "pass", "{again:#}");
    assert_eq!(
        again["evidence"]["auth"]["token"],
        "held from earlier in the run"
    );
    let without = probe_of(&report, "Without");
    assert_eq!(without["verdict"], "fail", "{without:#}");
    let realm = auth["realm"].as_str().expect("realm");
    assert_eq!(
        actual(without, "exists"),
        format!(
            "401 UNAUTHORIZED: authentication required; the token realm {realm} answered 401: it wants credentials, give `basic: {{user, password}}`"
        )
    );
    let wrong = probe_of(&report, "Wrong password");
    assert_eq!(
        actual(wrong, "exists"),
        format!(
            "401 UNAUTHORIZED: authentication required; the token realm {realm} answered 401: the `basic:` credentials were refused"
        )
    );
}

/// A registry-shaped in-process server: `/token` issues `TOKEN`; every
/// `/v2/` path wants `Bearer TOKEN`; the manifest, config and tag pages are
/// served from `routes`.
fn token_registry(
    routes: impl Fn(&server::Request) -> server::Response + Send + Sync + 'static,
) -> (Server, Arc<AtomicUsize>) {
    let tokens = Arc::new(AtomicUsize::new(0));
    let issued = tokens.clone();
    let realm: Arc<std::sync::OnceLock<String>> = Arc::default();
    let realm_in = realm.clone();
    let server = Server::http(move |request| {
        if request.path() == "/token" {
            issued.fetch_add(1, Ordering::SeqCst);
            return json(&format!(r#"{{"token": "{TOKEN}", "expires_in": 300}}"#));
        }
        if request.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
            let challenge = format!(
                r#"Bearer realm="{}/token",service="in-process",scope="repository:shop/api:pull""#,
                realm_in.get().map_or("", String::as_str)
            );
            return with_header(
                respond(
                    401,
                    "application/json",
                    r#"{"errors":[{"code":"UNAUTHORIZED","message":"token required"}]}"#,
                ),
                "www-authenticate",
                &challenge,
            );
        }
        routes(&request)
    });
    realm.set(server.url()).expect("set once");
    (server, tokens)
}

const TOKEN: &str = "in-process-token-Zq81xW";

/// An image manifest with one layer and `config`'s digest.
fn manifest_for(config: &str) -> String {
    let digest = format!("sha256:{}", sha256_hex(config.as_bytes()));
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:{}","size":1000}}]}}"#,
        config.len(),
        "1".repeat(64)
    )
}

fn sha256_hex(bytes: &[u8]) -> String {
    // ring is a dependency of vouch, and so reachable here.
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_token_echoed_by_the_registry_is_redacted_and_fetched_once_per_run() {
    let config = r#"{"created":"2020-01-01T00:00:00Z","os":"linux","architecture":"amd64","config":{"User":"app"}}"#;
    let manifest = manifest_for(config);
    let config_path = format!(
        "/v2/shop/api/blobs/sha256:{}",
        sha256_hex(config.as_bytes())
    );
    let (server, tokens) = token_registry(move |request| match request.path() {
        "/v2/shop/api/manifests/1" => respond(
            200,
            "application/vnd.oci.image.manifest.v1+json",
            manifest.clone(),
        ),
        p if p == config_path => json(config),
        // The tag list echoes the token bare, where no `Bearer` word
        // marks it as a credential.
        "/v2/shop/api/tags/list" => respond(
            500,
            "text/plain",
            format!(
                "broken; you sent token={}",
                request
                    .header("authorization")
                    .unwrap_or("")
                    .trim_start_matches("Bearer ")
            ),
        ),
        _ => respond(
            404,
            "application/json",
            r#"{"errors":[{"code":"NAME_UNKNOWN"}]}"#,
        ),
    });
    let host = server.url().trim_start_matches("http://").to_owned();
    let items = format!(
        r#"  - item: First
    probes:
      - image: {{ ref: "{host}/shop/api:1", plain_http: true, expect: {{ user: app, tags: {{ contains: [1] }} }} }}
  - item: Second
    probes:
      - image: {{ ref: "{host}/shop/api:1", plain_http: true, expect: {{ user: app }} }}
"#
    );
    let (out, report, text) = run(&items, &[]);
    out.assert_code(1);
    assert!(!text.contains(TOKEN), "the token leaked: {text}");
    assert!(!out.dump().contains(TOKEN), "the token leaked");
    let first = probe_of(&report, "First");
    assert!(passed(first, "user"), "{first:#}");
    let tags = actual(first, "tags");
    assert!(
        tags.starts_with("the tag list: HTTP 500: broken; you sent token=«redacted»"),
        "{tags}"
    );
    assert_eq!(probe_of(&report, "Second")["verdict"], "pass");
    assert_eq!(
        probe_of(&report, "Second")["evidence"]["auth"]["token"],
        "held from earlier in the run"
    );
    assert_eq!(tokens.load(Ordering::SeqCst), 1, "one token for the run");
}

#[test]
fn tag_pages_are_followed_and_a_looping_link_is_not() {
    let server = Server::http(|request| {
        let page = |tags: &str, next: Option<&str>| {
            let response = json(&format!(r#"{{"name":"shop/api","tags":[{tags}]}}"#));
            match next {
                Some(next) => with_header(response, "link", &format!(r#"<{next}>; rel="next""#)),
                None => response,
            }
        };
        match (request.path(), request.uri.contains("last=")) {
            ("/v2/shop/api/tags/list", false) => page(
                r#""1.0","1.1""#,
                Some("/v2/shop/api/tags/list?last=1.1&n=2"),
            ),
            ("/v2/shop/api/tags/list", true) if request.uri.contains("last=1.1") => page(
                r#""1.2","1.3""#,
                Some("/v2/shop/api/tags/list?last=1.3&n=2"),
            ),
            ("/v2/shop/api/tags/list", true) => page(r#""1.4""#, None),
            ("/v2/loop/tags/list", _) => page(r#""a""#, Some("/v2/loop/tags/list?n=1000")),
            (p, _) if p.contains("/manifests/") => respond(
                200,
                "application/vnd.oci.image.manifest.v1+json",
                manifest_for("{}"),
            ),
            _ => respond(404, "", ""),
        }
    });
    let host = server.url().trim_start_matches("http://").to_owned();
    let items = format!(
        r#"  - item: Paged
    probes:
      - image: {{ ref: "{host}/shop/api:1.4", plain_http: true, expect: {{ tags: {{ contains: ["1.0", "1.4"], count: 5 }} }} }}
  - item: Looping
    probes:
      - image: {{ ref: "{host}/loop:a", plain_http: true, expect: {{ tags: {{ contains: [b], count: 1 }} }} }}
"#
    );
    let (out, report, _) = run(&items, &[]);
    out.assert_code(1);
    let paged = probe_of(&report, "Paged");
    assert_eq!(paged["verdict"], "pass", "{paged:#}");
    assert_eq!(paged["evidence"]["tags"]["pages"], 3);
    let looping = probe_of(&report, "Looping");
    assert_eq!(
        actual(looping, "tags"),
        "missing b among 1 tags (the next page's link loops back)"
    );
    // A count is only known from a complete list.
    assert!(!passed(looping, "tag count"));
}

#[test]
fn hostile_registries_fail_the_probe_with_a_reason_and_in_bounds() {
    let huge = format!(
        r#"{{"layers":[],"config":{{}},"pad":"{}"}}"#,
        "x".repeat(8 << 20)
    );
    let config = r#"{"config":{"User":"app"}}"#;
    let lying_manifest = manifest_for(r#"{"config":{"User":"someone-else"}}"#);
    let config_digest_path = format!(
        "/v2/lying/blobs/sha256:{}",
        sha256_hex(r#"{"config":{"User":"someone-else"}}"#.as_bytes())
    );
    let server = Server::http(move |request| match request.path() {
        "/v2/huge/manifests/1" => respond(
            200,
            "application/vnd.oci.image.manifest.v1+json",
            huge.clone(),
        ),
        "/v2/html/manifests/1" => respond(200, "text/html", "<html>login</html>"),
        "/v2/loop/manifests/1" => {
            with_header(respond(302, "", ""), "location", "/v2/loop/manifests/1")
        }
        "/v2/lying/manifests/1" => respond(
            200,
            "application/vnd.oci.image.manifest.v1+json",
            lying_manifest.clone(),
        ),
        p if p == config_digest_path => json(config),
        p if p.starts_with("/v2/digest/manifests/sha256:") => respond(
            200,
            "application/vnd.oci.image.manifest.v1+json",
            manifest_for("{}"),
        ),
        _ => respond(404, "", ""),
    });
    let host = server.url().trim_start_matches("http://").to_owned();
    let asked = format!("sha256:{}", "2".repeat(64));
    let items = format!(
        r#"  - item: Huge manifest
    probes:
      - image: {{ ref: "{host}/huge:1", plain_http: true }}
  - item: Not JSON
    probes:
      - image: {{ ref: "{host}/html:1", plain_http: true }}
  - item: Redirect loop
    probes:
      - image: {{ ref: "{host}/loop:1", plain_http: true }}
  - item: Config not its digest
    probes:
      - image: {{ ref: "{host}/lying:1", plain_http: true, expect: {{ user: someone-else }} }}
  - item: Manifest not its digest
    probes:
      - image: {{ ref: "{host}/digest@{asked}", plain_http: true }}
"#
    );
    let started = Instant::now();
    let (out, report, _) = run(&items, &[]);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    out.assert_code(1);
    let huge = probe_of(&report, "Huge manifest");
    assert_eq!(
        actual(huge, "exists"),
        "the manifest is larger than 4.0 MiB (raise `body_limit`)"
    );
    let html = probe_of(&report, "Not JSON");
    assert_eq!(
        actual(html, "exists"),
        "not a manifest (not JSON): <html>login</html>"
    );
    let looping = probe_of(&report, "Redirect loop");
    assert_eq!(looping["verdict"], "fail", "{looping:#}");
    assert!(
        looping["summary"]
            .as_str()
            .expect("summary")
            .contains("redirect loop"),
        "{looping:#}"
    );
    let lying = probe_of(&report, "Config not its digest");
    assert!(
        actual(lying, "user").starts_with(
            "not checked: no config: the config blob served does not have its digest sha256:"
        ),
        "{lying:#}"
    );
    let digest = probe_of(&report, "Manifest not its digest");
    let shown = actual(digest, "exists");
    assert!(
        shown.starts_with("the registry served a manifest whose digest is sha256:")
            && shown.ends_with(&format!("not the {asked} asked for")),
        "{shown}"
    );
    assert_eq!(item_of(&report, "Huge manifest")["verdict"], "failed");
}

#[test]
fn a_ref_without_a_registry_host_is_a_load_error_with_its_position() {
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = "version: 1\nname: t\nitems:\n  - item: x\n    probes:\n      - image: { ref: shop/api:1 }\n";
    let file = write_file(dir.path(), "probes.yaml", yaml);
    let out = Vouch::new(["run", file.to_str().expect("utf-8 path")])
        .current_dir(dir.path())
        .run();
    out.assert_code(2);
    let dump = out.dump();
    assert!(dump.contains("probes.yaml:6:"), "{dump}");
    assert!(dump.contains("names no registry host"), "{dump}");
}

#[test]
fn https_is_the_default_and_credentials_never_go_to_a_plain_http_realm() {
    let pki = server::Pki::new();
    let realm = Server::http(|_| json(r#"{"token": "should-never-be-asked-for"}"#));
    let realm_url = realm.url();
    let registry = Server::https(&pki, move |request| match request.path() {
        "/v2/open/manifests/1" => respond(
            200,
            "application/vnd.oci.image.manifest.v1+json",
            manifest_for("{}"),
        ),
        _ => with_header(
            respond(
                401,
                "application/json",
                r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#,
            ),
            "www-authenticate",
            &format!(r#"Bearer realm="{realm_url}/token",service="s""#),
        ),
    });
    let host = registry.url().trim_start_matches("https://").to_owned();
    let ca = pki.ca_path();
    let ca = ca.to_str().expect("utf-8 path");
    let items = format!(
        r#"  - item: Trusted through ca
    probes:
      - image: {{ ref: "{host}/open:1", ca: "{ca}" }}
  - item: Untrusted
    probes:
      - image: {{ ref: "{host}/open:1" }}
  - item: Plain-HTTP realm
    probes:
      - image: {{ ref: "{host}/closed:1", ca: "{ca}", basic: {{ user: ci, password: "${{secret:REGISTRY_PASSWORD}}" }} }}
"#
    );
    let (out, report, text) = run(&items, &[("REGISTRY_PASSWORD", "pw-Qx93-never-sent")]);
    out.assert_code(1);
    assert!(!text.contains("pw-Qx93-never-sent"));
    let trusted = probe_of(&report, "Trusted through ca");
    assert_eq!(trusted["verdict"], "pass", "{trusted:#}");
    assert_eq!(
        trusted["evidence"]["registry"],
        format!("https://{host}/").as_str()
    );
    let untrusted = probe_of(&report, "Untrusted");
    assert_eq!(untrusted["verdict"], "fail", "{untrusted:#}");
    assert!(
        untrusted["summary"]
            .as_str()
            .expect("summary")
            .contains("certificate"),
        "{untrusted:#}"
    );
    let plain = probe_of(&report, "Plain-HTTP realm");
    assert_eq!(
        actual(plain, "exists"),
        format!(
            "401 UNAUTHORIZED; the token realm {}/token is plain HTTP while the registry is HTTPS: vouch does not send credentials there",
            realm.url()
        )
    );
    assert_eq!(realm.requests(), 0, "the realm was asked");
}

#[test]
fn a_registry_setting_names_where_to_connect_and_the_ref_is_the_repository() {
    let Some(registry) = peer("VOUCH_TEST_REGISTRY") else {
        return;
    };
    let items = format!(
        r#"  - item: By URL
    probes:
      - image: {{ registry: "http://{registry}", ref: "vouch/app:1.4.2", expect: {{ user: {{ ne: root }} }} }}
  - item: The target
    probes:
      - image: {{ registry: /, ref: "vouch/root:1", expect: {{ user: root }} }}
"#
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = format!(
        "version: 1\nname: image test\ntarget: http://{registry}/ignored/path\nitems:\n{items}"
    );
    let file = write_file(dir.path(), "probes.yaml", &yaml);
    let out = Vouch::new([
        "run",
        "--format",
        "json",
        file.to_str().expect("utf-8 path"),
    ])
    .current_dir(dir.path())
    .run();
    out.assert_code(0);
    let report = out.json();
    let by_url = probe_of(&report, "By URL");
    assert_eq!(by_url["verdict"], "pass", "{by_url:#}");
    assert_eq!(
        by_url["name"],
        format!("image vouch/app:1.4.2 at http://{registry}").as_str()
    );
    assert_eq!(
        by_url["evidence"]["registry"],
        format!("http://{registry}/").as_str()
    );
    let target = probe_of(&report, "The target");
    assert_eq!(target["verdict"], "pass", "{target:#}");
    assert_eq!(target["name"], "image vouch/root:1 at the target");
}
