//! Builders for the repository and host: commands (`exec`) and files
//! (`file`: named files, Dockerfile facts, backups, runbooks, lock files).

use super::super::claims::Facts;
use super::super::render::Node;
use super::super::rules::Draft;

/// Tools whose command line, in backticks, `init` runs as given.
const TOOLS: &[&str] = &[
    "pnpm",
    "npm",
    "npx",
    "yarn",
    "make",
    "go",
    "cargo",
    "pytest",
    "python",
    "python3",
    "gofmt",
    "golangci-lint",
    "helm",
    "trivy",
    "gosec",
    "govulncheck",
    "mvn",
    "gradle",
    "bundle",
    "tox",
    "just",
    "terraform",
];

/// A command in backticks: `` `pnpm test` `` → `exec: { run: [pnpm, test] }`.
pub fn exec_command(f: &Facts) -> Option<Draft> {
    let command = f.code.iter().find(|c| {
        c.split_whitespace()
            .next()
            .is_some_and(|first| TOOLS.contains(&first))
    })?;
    let argv: Vec<&str> = command.split_whitespace().collect();
    let mut settings = Node::map().with("run", Node::list(argv.iter().copied()));
    if argv.iter().any(|a| a.contains("test")) {
        settings.set("exclusive", Node::s("true"));
    }
    settings.set("expect/exit", Node::s("0"));
    Some(Draft::new("exec", settings).why(format!("runs `{command}`, named in the item")))
}

/// Commands named without backticks, and generic test/audit claims.
const NAMED: &[(&[&str], &str)] = &[
    (&["cargo audit"], "cargo audit"),
    (&["npm audit"], "npm audit --audit-level=high"),
    (&["pnpm audit"], "pnpm audit --audit-level=high"),
    (&["yarn audit"], "yarn audit"),
    (&["govulncheck"], "govulncheck ./..."),
    (&["gosec"], "gosec ./..."),
    (&["golangci lint"], "golangci-lint run ./..."),
    (&["go vet"], "go vet ./..."),
    (&["cargo test"], "cargo test --locked"),
    (&["go test"], "go test ./..."),
    (&["npm test"], "npm test"),
    (&["pytest"], "python3 -m pytest"),
    (&["helm lint", "helm charts"], "helm lint ."),
    (
        &["trivy"],
        "trivy image --exit-code 1 --severity HIGH,CRITICAL app:latest",
    ),
];

/// `gosec`, `golangci-lint`, "unit tests", "dependency audit" → `exec`.
pub fn exec_named(f: &Facts) -> Option<Draft> {
    if let Some((_, command)) = NAMED.iter().find(|(words, _)| f.has(words)) {
        let argv: Vec<&str> = command.split_whitespace().collect();
        let mut settings = Node::map().with("run", Node::list(argv.iter().copied()));
        if command.contains("test") {
            settings.set("exclusive", Node::s("true"));
        }
        settings.set("expect/exit", Node::s("0"));
        return Some(
            Draft::new("exec", settings).why(format!("runs `{command}`, the tool the item names")),
        );
    }
    if f.has(&["gofmt"]) {
        let settings = Node::map()
            .with("run", Node::list(["gofmt", "-l", "."]))
            .with("expect/exit", Node::s("0"))
            .with("expect/stdout/empty", Node::s("true"));
        return Some(
            Draft::new("exec", settings).why("`gofmt -l .` lists unformatted files: none expected"),
        );
    }
    let (command, what) = if f.has(&[
        "audit",
        "vulnerability",
        "vulnerabilities",
        "scan",
        "scanning",
    ]) {
        ("make audit", "the project's audit command")
    } else if f.has(&["coverage"]) {
        ("make coverage", "the project's coverage command")
    } else if f.has(&["lint", "linting", "static analysis"]) {
        ("make lint", "the project's lint command")
    } else if f.has(&["type checking"]) {
        ("make typecheck", "the project's type check")
    } else if f.has(&["build verification"]) {
        ("make build", "the project's build")
    } else {
        ("make test", "the project's test command")
    };
    let argv: Vec<&str> = command.split_whitespace().collect();
    let mut settings = Node::map().with("run", Node::list(argv.iter().copied()));
    if command.contains("test") || command.contains("coverage") {
        settings.set("exclusive", Node::s("true"));
    }
    settings.set("expect/exit", Node::s("0"));
    Some(
        Draft::new("exec", settings)
            .why(format!(
                "runs `{command}`: {what}; the item names no command"
            ))
            .guessed("the command"),
    )
}

/// A file named in backticks (`` `.env.example` ``, `` `pnpm-lock.yaml` ``).
pub fn file_named(f: &Facts) -> Option<Draft> {
    let file = f.code.iter().find(|w| {
        !w.contains(char::is_whitespace)
            && !w.contains("://")
            && !w.starts_with('/')
            && (w.contains('.') || w.contains('/'))
            && !w.starts_with("./")
            && w.rsplit('.')
                .next()
                .is_some_and(|ext| ext.len() <= 8 && ext.chars().all(char::is_alphanumeric))
    })?;
    if f.negated {
        // "`.env` not committed": the file must not be there. "No wildcard
        // versions in `package.json`" is about the file's content: not this rule.
        if !f.has(&[
            "committed",
            "checked in",
            "in the repo",
            "in the repository",
            "present",
            "exist",
            "exists",
        ]) {
            return None;
        }
        let settings = Node::map()
            .with("path", Node::s(file.clone()))
            .with("expect/exists", Node::s("false"));
        return Some(Draft::new("file", settings).why(format!("the file `{file}` must not exist")));
    }
    let settings = Node::map()
        .with("path", Node::s(file.clone()))
        .with("expect/exists", Node::s("true"));
    Some(Draft::new("file", settings).why(format!("the file `{file}` the item names must exist")))
}

/// Dockerfile facts, each from the words that claim it.
pub fn dockerfile(f: &Facts) -> Option<Draft> {
    // "Container image stays below 1GB": the image in its registry.
    if super::super::numbers::size(&f.text).is_some() {
        return None;
    }
    let about_health = f.has(&["health check", "health checks", "healthcheck"]);
    if about_health && !f.has_around(&["docker", "dockerfile", "container", "containerization"]) {
        return None;
    }
    let mut settings = Node::map().with("path", Node::s("Dockerfile"));
    let mut d = Draft::new("file", Node::map());
    if f.has(&["multi stage", "optimized", "optimised"]) {
        settings.set("expect/dockerfile/stages/min", Node::s("2"));
        d = d.why("multi-stage: at least 2 stages");
    }
    if f.has(&[
        "non root",
        "not root",
        "as root",
        "root user",
        "security",
        "rootless",
    ]) {
        settings.set("expect/dockerfile/user/ne", Node::s("root"));
        d = d.why("non-root: the final USER is not root");
    }
    if about_health {
        settings.set("expect/dockerfile/healthcheck", Node::s("true"));
        d = d.why("a HEALTHCHECK instruction");
    }
    if f.has(&["base image", "alpine", "distroless", "slim", "minimal"]) {
        let base = if f.has(&["alpine"]) {
            "alpine"
        } else if f.has(&["distroless"]) {
            "distroless"
        } else {
            "alpine|distroless|scratch|slim"
        };
        settings.set("expect/dockerfile/base/matches", Node::s(base));
        d = d.why(format!("a minimal base image: FROM matches `{base}`"));
    }
    if settings.get("expect").is_none() {
        settings.set("expect/dockerfile/stages/min", Node::s("2"));
        settings.set("expect/dockerfile/user/ne", Node::s("root"));
        d = d.why("a production Dockerfile: multi-stage, non-root");
    }
    d.settings = settings;
    Some(d)
}

/// An image in its registry: size, user, tags kept for rollback, age,
/// platforms, at `${var:image_ref}`.
pub fn image(f: &Facts) -> Option<Draft> {
    if !f.has_around(&[
        "image",
        "images",
        "container",
        "containers",
        "docker",
        "registry",
    ]) {
        return None;
    }
    let mut d = Draft::new("image", Node::map());
    let reference = d.var("image_ref", "IMAGE_REF", "registry.example/app:latest");
    let mut settings = Node::map().with("ref", Node::s(reference));
    d = d.guessed("the image reference");
    if let Some((n, unit)) = super::super::numbers::size(&f.text) {
        settings.set("expect/size/max", Node::s(format!("{n}{unit}")));
        d = d.why(format!("compressed layers at most {n}{unit}"));
    }
    if f.has(&["non root", "not root", "root user", "as root", "rootless"]) {
        settings.set("expect/user/ne", Node::s("root"));
        d = d.why("the config's User is not root");
    }
    if f.has(&["previous", "rollback", "roll back", "kept"]) {
        settings.set("expect/tags/count/min", Node::s("2"));
        d = d.why("at least 2 tags: the previous version is still there");
    }
    if let Some(days) = f.q.days {
        settings.set("expect/created/max", Node::s(format!("{days}d")));
        d = d.why(format!("built at most {days} days ago"));
    }
    if f.has(&["healthcheck", "health check"]) {
        settings.set("expect/healthcheck", Node::s("true"));
        d = d.why("the config has a health check");
    }
    if f.has(&["arm64", "multi arch", "multi platform", "multiarch"]) {
        settings.set(
            "expect/platforms",
            Node::list(["linux/amd64", "linux/arm64"]),
        );
        d = d.why("the index lists linux/amd64 and linux/arm64");
    }
    if f.has(&["oci labels", "labels", "labelled", "source label"]) {
        settings.set(
            "expect/labels/org.opencontainers.image.source/exists",
            Node::s("true"),
        );
        d = d.why("the source label is set");
    }
    if settings.get("expect").is_none() {
        settings.set("expect/exists", Node::s("true"));
        d = d.why("the registry has the image");
    }
    d.settings = settings;
    Some(d)
}

/// Backups, log rotation, runbooks, README, license: facts of files.
pub fn file_fact(f: &Facts) -> Option<Draft> {
    let (settings, why, guess) = if f.has(&["backup", "backups"]) {
        let age = if f.has(&["weekly"]) { "8d" } else { "25h" };
        (
            Node::map()
                .with("path", Node::s("/var/backups/*"))
                .with("allow_outside_root", Node::s("true"))
                .with("expect/count/min", Node::s("1"))
                .with("expect/age/max", Node::s(age)),
            format!("a backup exists and the newest is younger than {age}"),
            true,
        )
    } else if f.has(&["logrotate", "log rotation", "logs rotated"]) {
        (
            Node::map()
                .with("path", Node::s("/etc/logrotate.d/*"))
                .with("allow_outside_root", Node::s("true"))
                .with("expect/contains", Node::s("rotate")),
            "a logrotate rule".to_owned(),
            true,
        )
    } else if f.has(&["runbook", "runbooks", "playbook", "playbooks"]) {
        (
            Node::map()
                .with("path", Node::s("docs/**/*{runbook,playbook}*"))
                .with("expect/count/min", Node::s("1")),
            "a runbook in the repository".to_owned(),
            true,
        )
    } else if f.has(&["github actions"]) {
        (
            Node::map()
                .with("path", Node::s(".github/workflows/*.{yml,yaml}"))
                .with("expect/count/min", Node::s("1")),
            "a GitHub Actions workflow".to_owned(),
            false,
        )
    } else if f.has(&["versions locked", "lock file", "lockfile"]) {
        (
            Node::map()
                .with(
                    "path",
                    Node::s("{Cargo.lock,package-lock.json,pnpm-lock.yaml,yarn.lock,go.sum,poetry.lock}"),
                )
                .with("expect/count/min", Node::s("1")),
            "a lock file committed".to_owned(),
            true,
        )
    } else if f.has(&["docker compose"]) {
        (
            Node::map()
                .with("path", Node::s("{docker-compose,compose}*.{yml,yaml}"))
                .with("expect/count/min", Node::s("1")),
            "a Compose file in the repository".to_owned(),
            true,
        )
    } else if f.has(&["environment variables", "env vars"]) {
        (
            Node::map()
                .with("path", Node::s(".env.example"))
                .with("expect/lines/min", Node::s("1")),
            "the variables listed in `.env.example`".to_owned(),
            true,
        )
    } else if f.has(&["migration scripts"]) {
        (
            Node::map()
                .with("path", Node::s("**/migrations/*"))
                .with("expect/count/min", Node::s("1")),
            "migration scripts in the repository".to_owned(),
            true,
        )
    } else if f.has(&["readme"]) {
        (
            Node::map()
                .with("path", Node::s("README.md"))
                .with("expect/lines/min", Node::s("10")),
            "a README of some length".to_owned(),
            false,
        )
    } else if f.has(&["license", "licence"]) {
        (
            Node::map()
                .with("path", Node::s("{LICENSE,LICENSE.*,LICENSE-*,COPYING}"))
                .with("expect/count/min", Node::s("1")),
            "a license file".to_owned(),
            false,
        )
    } else {
        return None;
    };
    let d = Draft::new("file", settings).why(why);
    Some(if guess { d.guessed("the path") } else { d })
}
