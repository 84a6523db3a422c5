//! Which runtime a container runs, told by its process (command, or the image's entrypoint
//! when there is no command), never by a container name or a name prefix: a sidecar that
//! mounts nginx.conf is not nginx, and `envoy-xds-reloader` is not envoy. A settings file
//! belongs to a runtime only when the container runs that runtime.

/// The runtimes podsizer sizes the workers of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// php-fpm (`php-fpm`, `php-fpm8.3`, ...): sized by `pm.max_children`.
    PhpFpm,
    /// envoy: sized by `--concurrency`.
    Envoy,
    /// nginx: sized by `worker_processes`.
    Nginx,
    /// A Java virtual machine (`java`): sized by its heap and processor flags.
    Jvm,
    /// Node.js (`node` or a launcher such as `npm`): sized by `--max-old-space-size`.
    Node,
    /// gunicorn (also as `python -m gunicorn`): sized by its worker count.
    Gunicorn,
    /// uvicorn (also as `python -m uvicorn`): sized by its worker count.
    Uvicorn,
}

impl Runtime {
    /// The runtime's name in messages (`php-fpm`, `the JVM`, `Node.js`).
    pub fn name(self) -> &'static str {
        match self {
            Runtime::PhpFpm => "php-fpm",
            Runtime::Envoy => "envoy",
            Runtime::Nginx => "nginx",
            Runtime::Jvm => "the JVM",
            Runtime::Node => "Node.js",
            Runtime::Gunicorn => "gunicorn",
            Runtime::Uvicorn => "uvicorn",
        }
    }
}

/// What a container's spec says it runs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Process {
    /// The executable's file name, from `command` (through `sh -c` and init wrappers);
    /// `None` when the image's own entrypoint runs.
    pub exe: Option<String>,
    /// The `sh -c` script the executable was found in, if any (its flags are not patchable).
    pub script: Option<String>,
    /// The container's image reference as written (`repo/name:tag` or with a digest).
    pub image: String,
}

/// Images whose entrypoint is the runtime itself (the repository's last path segment).
const ENVOY_IMAGES: &[&str] =
    &["envoy", "envoy-distroless", "envoy-alpine", "envoy-dev", "envoy-contrib", "envoy-debug"];
const NGINX_IMAGES: &[&str] = &["nginx", "nginx-unprivileged", "openresty"];
/// JDK and JRE images whose entrypoint is `java` or a shell that runs what follows; distroless
/// `java17-debian12` and the like by prefix.
const JVM_IMAGES: &[&str] =
    &["openjdk", "eclipse-temurin", "amazoncorretto", "ibm-semeru-runtimes", "sapmachine", "zulu-openjdk"];
/// Launchers that run `node` with the container's environment (and so its `NODE_OPTIONS`).
const NODE_EXES: &[&str] = &["node", "nodejs", "npm", "npx", "yarn", "pnpm"];
/// Entrypoints that start the real process from their arguments.
const WRAPPERS: &[&str] = &["tini", "tini-static", "dumb-init", "docker-php-entrypoint", "docker-entrypoint.sh"];
const SHELLS: &[&str] = &["sh", "bash", "ash", "dash", "zsh"];

fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The executable a shell script runs: the word after its `exec`, or the first word of a
/// script that is one plain command. `None` for anything longer (pipes, `&&`, several lines).
fn script_exe(script: &str) -> Option<String> {
    let words: Vec<&str> = script.split_whitespace().collect();
    if let Some(i) = words.iter().rposition(|w| *w == "exec") {
        return words.get(i + 1).map(|w| base(w).to_string());
    }
    let plain = !script.contains(['\n', ';', '|', '&', '`', '$', '(']);
    plain.then(|| words.first().map(|w| base(w).to_string())).flatten()
}

impl Process {
    /// What a container with this `image`, `command` and `args` runs: init wrappers (`tini`,
    /// `dumb-init`) are skipped, a `sh -c` script is read for its one command, and
    /// `python -m X` runs X.
    pub fn of(image: &str, command: &[String], args: &[String]) -> Process {
        let mut argv: Vec<&String> = command.iter().collect();
        while argv.first().is_some_and(|a| WRAPPERS.contains(&base(a))) {
            argv.remove(0);
            while argv.first().is_some_and(|a| a.starts_with('-')) {
                argv.remove(0);
            }
        }
        let Some(first) = argv.first() else {
            // A wrapper alone runs its args.
            let exe = (!command.is_empty()).then(|| args.first().map(|a| base(a).to_string())).flatten();
            return Process { exe, script: None, image: image.to_string() };
        };
        if SHELLS.contains(&base(first)) {
            let script = match argv.iter().position(|a| *a == "-c") {
                Some(i) => argv.get(i + 1).map(|s| (*s).clone()).or_else(|| args.first().cloned()),
                None => None,
            };
            let exe = script.as_deref().and_then(script_exe);
            return Process { exe, script, image: image.to_string() };
        }
        // `python -m gunicorn` runs gunicorn.
        let exe = base(first);
        let rest: Vec<&String> = argv.iter().skip(1).copied().chain(args).collect();
        let exe = match (exe.starts_with("python"), rest.as_slice()) {
            (true, [m, module, ..]) if *m == "-m" => module.as_str(),
            _ => exe,
        };
        Process { exe: Some(exe.to_string()), script: None, image: image.to_string() }
    }

    /// The repository's last path segment, without tag or digest: `envoyproxy/envoy:v1` -> `envoy`.
    fn image_repo(&self) -> &str {
        let without_digest = self.image.split('@').next().unwrap_or("");
        let last = base(without_digest);
        last.split(':').next().unwrap_or("")
    }

    /// Whether the container runs `runtime`: by its command when it has one, else by what the
    /// image's entrypoint is known to be; a shell script whose command cannot be told runs nothing.
    pub fn runs(&self, runtime: Runtime) -> bool {
        let image = self.image.to_ascii_lowercase();
        match (runtime, self.exe.as_deref()) {
            (Runtime::Envoy, Some(exe)) => exe == "envoy",
            (Runtime::Nginx, Some(exe)) => exe == "nginx",
            (Runtime::PhpFpm, Some(exe)) => exe.starts_with("php-fpm"),
            (Runtime::Jvm, Some(exe)) => exe == "java",
            (Runtime::Node, Some(exe)) => NODE_EXES.contains(&exe),
            (Runtime::Gunicorn, Some(exe)) => exe == "gunicorn",
            (Runtime::Uvicorn, Some(exe)) => exe == "uvicorn",
            // A shell script whose command could not be told: nothing is assumed.
            (_, None) if self.script.is_some() => false,
            (Runtime::Envoy, None) => ENVOY_IMAGES.contains(&self.image_repo()),
            (Runtime::Nginx, None) => NGINX_IMAGES.contains(&self.image_repo()),
            // php-fpm images are named freely (`php:8.3-fpm`, `webdevops/php-nginx`, an app's own
            // `php-api`); an exporter or other tool image is not the pool's process.
            (Runtime::PhpFpm, None) => image.contains("php") && !image.contains("exporter"),
            (Runtime::Jvm, None) => {
                let repo = self.image_repo();
                JVM_IMAGES.contains(&repo)
                    || (repo.starts_with("java") && repo[4..].starts_with(|c: char| c.is_ascii_digit()))
            }
            (Runtime::Node, None) => self.image_repo() == "node",
            // gunicorn and uvicorn images are an app's own: only a command tells them.
            (Runtime::Gunicorn | Runtime::Uvicorn, None) => false,
        }
    }

    /// "image X" or "command envoy (sh -c …)", for messages.
    pub fn describe(&self) -> String {
        match (&self.exe, &self.script) {
            (Some(exe), None) => format!("command {exe} (image {})", self.image),
            (exe, Some(script)) => format!(
                "sh -c {script:?} (image {}){}",
                self.image,
                if exe.is_none() { ", not a single command" } else { "" }
            ),
            (None, None) => format!("image {}", self.image),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(std::string::ToString::to_string).collect()
    }

    #[test]
    fn runtimes_are_told_by_process_not_by_name() {
        type Case<'a> = (&'a str, &'a [&'a str], &'a [&'a str], Option<Runtime>);
        let cases: &[Case] = &[
            ("envoyproxy/envoy:v1.31.2", &[], &["-c", "/e.yaml"], Some(Runtime::Envoy)),
            ("envoyproxy/envoy-distroless:v1.31", &[], &[], Some(Runtime::Envoy)),
            ("ghcr.io/acme/envoy-xds-reloader:1", &[], &[], None),
            ("busybox", &["/usr/local/bin/envoy"], &["-c", "x"], Some(Runtime::Envoy)),
            ("busybox", &["sh", "-c", "exec envoy -c /e.yaml --concurrency 2"], &[], Some(Runtime::Envoy)),
            ("busybox", &["sh", "-c"], &["exec /usr/bin/envoy -c /e.yaml"], Some(Runtime::Envoy)),
            ("busybox", &["sh", "-c", "envoy -c x | tee log"], &[], None),
            ("nginx:1.27-alpine", &[], &[], Some(Runtime::Nginx)),
            ("nginxinc/nginx-unprivileged:1.27", &[], &[], Some(Runtime::Nginx)),
            ("nginx/nginx-prometheus-exporter:1.1", &[], &[], None),
            ("jimmidyson/configmap-reload:v0.9", &[], &["--volume-dir=/etc/nginx"], None),
            ("nginx:1.27", &["tini", "--", "nginx"], &["-g", "daemon off;"], Some(Runtime::Nginx)),
            ("php:8.3-fpm-alpine", &[], &[], Some(Runtime::PhpFpm)),
            ("ghcr.io/example/php-api:2.14.0", &[], &[], Some(Runtime::PhpFpm)),
            ("hipages/php-fpm_exporter:2", &[], &[], None),
            ("php:8.3-cli", &["php-fpm8.3", "-F"], &[], Some(Runtime::PhpFpm)),
            ("php:8.3-fpm", &["php", "artisan", "queue:work"], &[], None),
            ("eclipse-temurin:21-jre", &["java"], &["-jar", "/app.jar"], Some(Runtime::Jvm)),
            ("eclipse-temurin:21-jre", &[], &[], Some(Runtime::Jvm)),
            ("gcr.io/distroless/java17-debian12", &[], &["app.jar"], Some(Runtime::Jvm)),
            ("ghcr.io/acme/javascript-tools:1", &[], &[], None),
            ("ghcr.io/acme/orders:1.4", &["tini", "--", "java"], &["-jar", "x.jar"], Some(Runtime::Jvm)),
            ("node:22-alpine", &[], &["server.js"], Some(Runtime::Node)),
            ("ghcr.io/acme/web:3", &["npm", "start"], &[], Some(Runtime::Node)),
            ("ghcr.io/acme/web:3", &["sh", "-c", "exec node dist/main.js"], &[], Some(Runtime::Node)),
            ("ghcr.io/acme/api:2", &["gunicorn"], &["-w", "4", "app:app"], Some(Runtime::Gunicorn)),
            ("ghcr.io/acme/api:2", &["python3", "-m", "gunicorn"], &["app:app"], Some(Runtime::Gunicorn)),
            ("ghcr.io/acme/api:2", &["python"], &["-m", "uvicorn", "app:app"], Some(Runtime::Uvicorn)),
            ("python:3.12", &["python", "manage.py", "runserver"], &[], None),
        ];
        let all = [
            Runtime::PhpFpm,
            Runtime::Envoy,
            Runtime::Nginx,
            Runtime::Jvm,
            Runtime::Node,
            Runtime::Gunicorn,
            Runtime::Uvicorn,
        ];
        for (image, command, args, want) in cases {
            let p = Process::of(image, &v(command), &v(args));
            let got = all.into_iter().find(|r| p.runs(*r));
            assert_eq!(got, *want, "{image} {command:?} {args:?}: {p:?}");
        }
    }
}
