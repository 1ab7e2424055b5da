//! Checks of the deployment files (Dockerfile, docker-compose.yml, deploy/):
//! - schema validation through scripts/validate-deploy.sh, which needs the Python tools that
//!   scripts/test.sh installs;
//! - consistency with the code: every `CERTSTREAM_*` variable and `--flag` is a setting of
//!   `certstream_shared::config::SETTINGS` with a valid value, and commands name real binaries;
//! - ports: probes and scrape targets use the ports the services listen on;
//! - monitoring: the dashboard queries only metrics that the services register.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use certstream_shared::config::{SettingInfo, SETTINGS};
use certstream_shared::Settings;
use serde::Deserialize;
use serde_json::Value;

/// Environment variable with the Python of the virtual environment that contains
/// check-jsonschema and kubernetes-validate. scripts/test.sh sets it.
const PYTHON_ENV: &str = "CERTSTREAM_TEST_PYTHON";

/// The binaries of the image, each with the crate folder that builds it.
const BINARIES: [(&str, &str); 3] = [
    ("certstream-ingest", "ingest"),
    ("certstream-decoder", "decoder"),
    ("certstream-gateway", "gateway"),
];

/// Kubernetes manifest files, in the order kustomization.yaml lists them.
const MANIFESTS: [&str; 6] = [
    "namespace.yaml",
    "config.yaml",
    "nats.yaml",
    "ingest.yaml",
    "decoder.yaml",
    "gateway.yaml",
];

// === Helpers ===

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace root")
        .to_path_buf()
}

fn read_text(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

/// Parses every document of a YAML file into JSON values; empty documents are skipped.
fn read_yaml_documents(path: &Path) -> Vec<Value> {
    let text = read_text(path);
    let mut documents = Vec::new();
    for document in serde_norway::Deserializer::from_str(&text) {
        let value = Value::deserialize(document)
            .unwrap_or_else(|err| panic!("invalid YAML in {}: {err}", path.display()));
        if !value.is_null() {
            documents.push(value);
        }
    }
    documents
}

fn read_yaml(path: &Path) -> Value {
    let mut documents = read_yaml_documents(path);
    assert_eq!(
        documents.len(),
        1,
        "{} should hold one YAML document",
        path.display()
    );
    documents.remove(0)
}

fn kubernetes_documents() -> Vec<(String, Value)> {
    let dir = workspace_root().join("deploy/kubernetes");
    let mut documents = Vec::new();
    for file in MANIFESTS {
        for document in read_yaml_documents(&dir.join(file)) {
            documents.push((file.to_string(), document));
        }
    }
    documents
}

fn setting_by_env(env: &str) -> Option<&'static SettingInfo> {
    SETTINGS.iter().find(|setting| setting.env == env)
}

fn setting_by_flag(flag: &str) -> Option<&'static SettingInfo> {
    SETTINGS.iter().find(|setting| setting.flag == flag)
}

fn default_of(env: &str) -> &'static str {
    setting_by_env(env)
        .unwrap_or_else(|| panic!("{env} is missing from SETTINGS"))
        .default
}

fn default_port(env: &str) -> u64 {
    default_of(env)
        .parse()
        .unwrap_or_else(|err| panic!("default of {env} is not a port: {err}"))
}

/// Text of a scalar as an environment variable would carry it.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn string_list(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| items.iter().map(scalar_text).collect())
        .unwrap_or_default()
}

/// Parses `variables` and the command line `args` (program name first) as a service would,
/// passing the variables through a YAML configuration file so that the test process's own
/// environment stays untouched. Returns the error text on failure.
fn parse_settings(variables: &BTreeMap<String, String>, args: &[String]) -> Result<(), String> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut file_text = String::new();
    for (env, value) in variables {
        let setting = setting_by_env(env).ok_or_else(|| format!("{env} is not a setting"))?;
        let quoted = serde_json::to_string(value).expect("string encodes as JSON");
        file_text.push_str(&format!("{}: {quoted}\n", setting.key));
    }
    let config = dir.path().join("settings.yaml");
    std::fs::write(&config, file_text).expect("write settings file");
    let mut full_args = args.to_vec();
    full_args.push("--config".to_string());
    full_args.push(config.display().to_string());
    Settings::try_from_args(full_args)
        .map(|_| ())
        .map_err(|err| err.to_string())
}

/// Checks one service definition: its variables are settings, its command names a binary and
/// uses only known flags, and the service would accept the whole configuration.
fn check_service(origin: &str, command: &[String], variables: &BTreeMap<String, String>) {
    for env in variables.keys() {
        assert!(
            setting_by_env(env).is_some(),
            "{origin} sets {env}, which is not in certstream_shared::config::SETTINGS"
        );
    }

    let binary = command
        .first()
        .unwrap_or_else(|| panic!("{origin} has no command"));
    assert!(
        BINARIES.iter().any(|(name, _)| name == binary),
        "{origin} runs {binary:?}, which is none of the binaries {:?}",
        BINARIES.map(|(name, _)| name)
    );

    for arg in &command[1..] {
        let Some(flag) = arg.strip_prefix("--") else {
            continue;
        };
        let flag = flag.split('=').next().unwrap_or(flag);
        assert!(
            flag == "config" || setting_by_flag(flag).is_some(),
            "{origin} passes --{flag}, which is not in certstream_shared::config::SETTINGS"
        );
    }

    if let Err(err) = parse_settings(variables, command) {
        panic!("{origin}: the service would reject its configuration: {err}");
    }
}

/// Returns the validators' Python, or panics with the command that installs it.
fn test_python() -> PathBuf {
    match std::env::var_os(PYTHON_ENV) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => panic!(
            "{PYTHON_ENV} is not set: run the tests through scripts/test.sh, which installs \
             check-jsonschema and kubernetes-validate into .tools/venv and sets it"
        ),
    }
}

fn run_validator(args: &[&str]) -> Output {
    let root = workspace_root();
    Command::new("bash")
        .arg(root.join("scripts/validate-deploy.sh"))
        .args(args)
        .env(PYTHON_ENV, test_python())
        .output()
        .expect("start scripts/validate-deploy.sh")
}

fn combined_output(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Copies `source` into `dir` after replacing `from` with `to`, which must occur in it.
fn broken_copy(dir: &Path, source: &Path, from: &str, to: &str) -> PathBuf {
    let text = read_text(source);
    assert!(
        text.contains(from),
        "{} no longer contains {from:?}; update this test",
        source.display()
    );
    let target = dir.join(source.file_name().expect("file name"));
    std::fs::write(&target, text.replacen(from, to, 1)).expect("write broken copy");
    target
}

// === Schema validation ===

#[test]
fn validators_accept_repository_files() {
    let output = run_validator(&[]);
    assert!(
        output.status.success(),
        "scripts/validate-deploy.sh rejected the repository's files:\n{}",
        combined_output(&output)
    );
}

#[test]
fn validator_rejects_string_replicas() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let source = workspace_root().join("deploy/kubernetes/decoder.yaml");
    let broken = broken_copy(dir.path(), &source, "replicas: 2\n", "replicas: \"two\"\n");

    let output = run_validator(&["--kubernetes", broken.to_str().expect("UTF-8 path")]);

    let text = combined_output(&output);
    assert!(
        !output.status.success(),
        "string replicas passed validation:\n{text}"
    );
    assert!(
        text.contains("replicas"),
        "the error does not name the field:\n{text}"
    );
}

#[test]
fn validator_rejects_unknown_manifest_field() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let source = workspace_root().join("deploy/kubernetes/gateway.yaml");
    let broken = broken_copy(
        dir.path(),
        &source,
        "terminationGracePeriodSeconds:",
        "terminationGracePeriod:",
    );

    let output = run_validator(&["--kubernetes", broken.to_str().expect("UTF-8 path")]);

    let text = combined_output(&output);
    assert!(
        !output.status.success(),
        "an unknown field passed validation:\n{text}"
    );
    assert!(
        text.contains("terminationGracePeriod"),
        "the error does not name the field:\n{text}"
    );
}

#[test]
fn validator_rejects_unknown_compose_key() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let source = workspace_root().join("docker-compose.yml");
    let broken = broken_copy(
        dir.path(),
        &source,
        "  gateway:\n",
        "  gateway:\n    replica_count: 2\n",
    );

    let output = run_validator(&["--compose", broken.to_str().expect("UTF-8 path")]);

    let text = combined_output(&output);
    assert!(
        !output.status.success(),
        "an unknown service key passed validation:\n{text}"
    );
    assert!(
        text.contains("replica_count"),
        "the error does not name the key:\n{text}"
    );
}

// === Compose ===

/// Collects the certstream services of docker-compose.yml: name, command and CERTSTREAM_*
/// variables.
fn compose_certstream_services() -> Vec<(String, Vec<String>, BTreeMap<String, String>)> {
    let compose = read_yaml(&workspace_root().join("docker-compose.yml"));
    let services = compose["services"]
        .as_object()
        .expect("docker-compose.yml has services");
    let mut found = Vec::new();
    for (name, service) in services {
        let command = string_list(&service["command"]);
        let runs_certstream = command
            .first()
            .is_some_and(|program| program.starts_with("certstream"));
        let uses_image = service["build"].is_string() || service["build"].is_object();
        if !runs_certstream && !uses_image {
            continue;
        }
        let mut variables = BTreeMap::new();
        if let Some(environment) = service["environment"].as_object() {
            for (key, value) in environment {
                variables.insert(key.clone(), scalar_text(value));
            }
        }
        assert!(
            !service["environment"].is_array(),
            "compose service {name}: write environment as a mapping so this test can read it"
        );
        found.push((name.clone(), command, variables));
    }
    found
}

#[test]
fn compose_services_use_known_settings() {
    let services = compose_certstream_services();
    let mut names: Vec<&str> = services.iter().map(|(name, _, _)| name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["decoder", "gateway", "ingest"]);

    for (name, command, variables) in &services {
        check_service(
            &format!("docker-compose.yml service {name}"),
            command,
            variables,
        );
    }
}

#[test]
fn compose_services_reach_nats() {
    for (name, command, variables) in compose_certstream_services() {
        let has_flag = command.iter().any(|arg| arg == "--nats-url");
        let has_env = variables.contains_key("CERTSTREAM_NATS_URL");
        assert!(
            has_flag || has_env,
            "compose service {name} has no NATS URL"
        );
    }
}

#[test]
fn compose_ports_match_services() {
    let gateway_port = default_port("CERTSTREAM_PORT");
    let metrics_port = default_port("CERTSTREAM_METRICS_PORT");
    for (name, _, variables) in compose_certstream_services() {
        if let Some(port) = variables.get("CERTSTREAM_PORT") {
            assert_eq!(port, &gateway_port.to_string(), "compose service {name}");
        }
        if let Some(port) = variables.get("CERTSTREAM_METRICS_PORT") {
            assert_eq!(port, &metrics_port.to_string(), "compose service {name}");
        }
    }

    let nginx = read_text(&workspace_root().join("deploy/compose/nginx.conf"));
    assert!(
        nginx.contains(&format!("gateway:{gateway_port}")),
        "nginx.conf does not proxy to gateway:{gateway_port}"
    );
}

#[test]
fn nginx_keeps_streams_open() {
    let nginx = read_text(&workspace_root().join("deploy/compose/nginx.conf"));
    for directive in [
        "proxy_http_version 1.1;",
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header Connection $connection_upgrade;",
        "proxy_buffering off;",
        "proxy_read_timeout 1h;",
    ] {
        assert!(nginx.contains(directive), "nginx.conf lacks `{directive}`");
    }
}

#[test]
fn prometheus_scrapes_service_ports() {
    let config = read_yaml(&workspace_root().join("deploy/prometheus/prometheus.yml"));
    let jobs = config["scrape_configs"].as_array().expect("scrape_configs");
    let gateway_port = default_port("CERTSTREAM_PORT");
    let metrics_port = default_port("CERTSTREAM_METRICS_PORT");
    for (service, port) in [
        ("gateway", gateway_port),
        ("ingest", metrics_port),
        ("decoder", metrics_port),
    ] {
        let job = jobs
            .iter()
            .find(|job| job["job_name"] == format!("certstream-{service}"))
            .unwrap_or_else(|| panic!("prometheus.yml has no job certstream-{service}"));
        let discovery = &job["dns_sd_configs"][0];
        assert_eq!(discovery["names"][0], service, "job certstream-{service}");
        assert_eq!(discovery["port"], port, "job certstream-{service}");
        assert_eq!(job["metrics_path"], "/metrics", "job certstream-{service}");
    }
}

// === Kubernetes ===

/// A container of a certstream Deployment with its CERTSTREAM_* variables resolved from the
/// ConfigMap, the Secret and the container's own env.
struct KubernetesContainer {
    origin: String,
    /// `command` followed by `args`.
    command: Vec<String>,
    variables: BTreeMap<String, String>,
    spec: Value,
}

/// Collects every container of the certstream Deployments.
fn kubernetes_certstream_containers() -> Vec<KubernetesContainer> {
    let documents = kubernetes_documents();
    let mut config_maps: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (_, document) in &documents {
        if document["kind"] == "ConfigMap" || document["kind"] == "Secret" {
            let name = document["metadata"]["name"]
                .as_str()
                .expect("name")
                .to_string();
            let mut data = BTreeMap::new();
            for field in ["data", "stringData"] {
                if let Some(entries) = document[field].as_object() {
                    for (key, value) in entries {
                        data.insert(key.clone(), scalar_text(value));
                    }
                }
            }
            config_maps.insert(name, data);
        }
    }

    let mut containers = Vec::new();
    for (file, document) in &documents {
        if document["kind"] != "Deployment" {
            continue;
        }
        let deployment = document["metadata"]["name"].as_str().expect("name");
        let spec = &document["spec"]["template"]["spec"];
        for container in spec["containers"].as_array().expect("containers") {
            let origin = format!(
                "{file} Deployment {deployment} container {}",
                container["name"].as_str().unwrap_or("?")
            );
            let mut command = string_list(&container["command"]);
            command.extend(string_list(&container["args"]));

            let mut variables = BTreeMap::new();
            for source in container["envFrom"].as_array().into_iter().flatten() {
                let reference = source["configMapRef"]["name"]
                    .as_str()
                    .or_else(|| source["secretRef"]["name"].as_str())
                    .unwrap_or_else(|| panic!("{origin}: envFrom without a name"));
                let data = config_maps
                    .get(reference)
                    .unwrap_or_else(|| panic!("{origin}: envFrom names missing {reference}"));
                variables.extend(
                    data.iter()
                        .filter(|(key, _)| key.starts_with("CERTSTREAM_"))
                        .map(|(key, value)| (key.clone(), value.clone())),
                );
            }
            for entry in container["env"].as_array().into_iter().flatten() {
                let name = entry["name"].as_str().expect("env name").to_string();
                if !name.starts_with("CERTSTREAM_") {
                    continue;
                }
                let value = if let Some(reference) = entry["valueFrom"]["secretKeyRef"].as_object()
                {
                    let secret = reference["name"].as_str().expect("secret name");
                    let key = reference["key"].as_str().expect("secret key");
                    config_maps
                        .get(secret)
                        .and_then(|data| data.get(key))
                        .unwrap_or_else(|| {
                            panic!("{origin}: {name} refers to missing {secret}/{key}")
                        })
                        .clone()
                } else {
                    scalar_text(&entry["value"])
                };
                variables.insert(name, value);
            }
            containers.push(KubernetesContainer {
                origin,
                command,
                variables,
                spec: container.clone(),
            });
        }
    }
    containers
}

#[test]
fn kubernetes_config_keys_are_settings() {
    let documents = kubernetes_documents();
    let mut checked = 0;
    for (file, document) in &documents {
        if document["kind"] != "ConfigMap" && document["kind"] != "Secret" {
            continue;
        }
        let name = document["metadata"]["name"].as_str().expect("name");
        if name == "nats-config" {
            continue;
        }
        for field in ["data", "stringData"] {
            for key in document[field]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(key, _)| key)
            {
                assert!(
                    setting_by_env(key).is_some(),
                    "{file} {name} sets {key}, which is not in certstream_shared::config::SETTINGS"
                );
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 5,
        "found only {checked} CERTSTREAM_* keys in ConfigMaps and Secrets"
    );
}

#[test]
fn kubernetes_deployments_use_known_settings() {
    let containers = kubernetes_certstream_containers();
    let binaries: Vec<&str> = containers
        .iter()
        .map(|container| container.command.first().map_or("", String::as_str))
        .collect();
    assert_eq!(
        binaries,
        [
            "certstream-ingest",
            "certstream-decoder",
            "certstream-gateway"
        ]
    );

    for KubernetesContainer {
        origin,
        command,
        variables,
        ..
    } in &containers
    {
        assert!(
            variables.contains_key("CERTSTREAM_NATS_URL"),
            "{origin} has no CERTSTREAM_NATS_URL"
        );
        check_service(origin, command, variables);
    }
}

/// Resolves a probe or Service port (number or container port name) to a number.
fn resolve_port(container: &Value, port: &Value) -> Option<u64> {
    if let Some(number) = port.as_u64() {
        return Some(number);
    }
    let name = port.as_str()?;
    container["ports"]
        .as_array()?
        .iter()
        .find(|entry| entry["name"] == name)
        .and_then(|entry| entry["containerPort"].as_u64())
}

#[test]
fn kubernetes_probes_use_health_and_service_ports() {
    let gateway_port = default_port("CERTSTREAM_PORT");
    let metrics_port = default_port("CERTSTREAM_METRICS_PORT");
    for KubernetesContainer {
        origin,
        command,
        variables,
        spec: container,
    } in kubernetes_certstream_containers()
    {
        let (port_env, expected) = if command[0] == "certstream-gateway" {
            ("CERTSTREAM_PORT", gateway_port)
        } else {
            ("CERTSTREAM_METRICS_PORT", metrics_port)
        };
        if let Some(value) = variables.get(port_env) {
            assert_eq!(value, &expected.to_string(), "{origin}: {port_env}");
        }
        for probe in ["readinessProbe", "livenessProbe"] {
            let http = &container[probe]["httpGet"];
            assert_eq!(http["path"], "/health", "{origin}: {probe} path");
            assert_eq!(
                resolve_port(&container, &http["port"]),
                Some(expected),
                "{origin}: {probe} port"
            );
        }
    }
}

#[test]
fn kubernetes_containers_have_resources() {
    for KubernetesContainer {
        origin,
        spec: container,
        ..
    } in kubernetes_certstream_containers()
    {
        for bound in ["requests", "limits"] {
            for resource in ["cpu", "memory"] {
                assert!(
                    container["resources"][bound][resource].is_string(),
                    "{origin} has no resources.{bound}.{resource}"
                );
            }
        }
    }
}

#[test]
fn gateway_service_and_autoscaler_match() {
    let documents = kubernetes_documents();
    let find = |kind: &str, name: &str| {
        documents
            .iter()
            .map(|(_, document)| document)
            .find(|document| document["kind"] == kind && document["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name} in deploy/kubernetes"))
            .clone()
    };
    let deployment = find("Deployment", "certstream-gateway");
    let service = find("Service", "certstream-gateway");
    let autoscaler = find("HorizontalPodAutoscaler", "certstream-gateway");
    find("PodDisruptionBudget", "certstream-gateway");
    find("PodDisruptionBudget", "nats");

    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let grace = pod["terminationGracePeriodSeconds"].as_u64().unwrap_or(30);
    assert!(
        grace >= 30,
        "gateway terminationGracePeriodSeconds is {grace}"
    );

    let gateway_port = default_port("CERTSTREAM_PORT");
    let service_port = &service["spec"]["ports"][0];
    assert_eq!(
        resolve_port(container, &service_port["targetPort"]),
        Some(gateway_port),
        "Service certstream-gateway targetPort"
    );
    assert_eq!(
        service["spec"]["selector"], deployment["spec"]["selector"]["matchLabels"],
        "Service selector differs from the Deployment's"
    );

    assert_eq!(
        autoscaler["spec"]["scaleTargetRef"]["name"],
        "certstream-gateway"
    );
    let metrics = autoscaler["spec"]["metrics"]
        .as_array()
        .expect("HPA metrics");
    assert!(
        metrics
            .iter()
            .any(|metric| metric["resource"]["name"] == "cpu"),
        "HPA does not scale on CPU"
    );
    assert!(
        metrics
            .iter()
            .any(|metric| metric["pods"]["metric"]["name"] == "certstream_gateway_clients"),
        "HPA does not scale on certstream_gateway_clients"
    );
}

#[test]
fn kustomization_lists_every_manifest() {
    let dir = workspace_root().join("deploy/kubernetes");
    let kustomization = read_yaml(&dir.join("kustomization.yaml"));
    let listed = string_list(&kustomization["resources"]);
    assert_eq!(listed, MANIFESTS, "kustomization.yaml resources");

    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("read deploy/kubernetes")
        .map(|entry| {
            entry
                .expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".yaml") && name != "kustomization.yaml")
        .collect();
    on_disk.sort();
    let mut expected = MANIFESTS.map(str::to_string).to_vec();
    expected.sort();
    assert_eq!(on_disk, expected, "manifests in deploy/kubernetes");
}

// === Image ===

#[test]
fn dockerfile_builds_all_binaries() {
    let root = workspace_root();
    let dockerfile = read_text(&root.join("Dockerfile"));
    assert!(
        dockerfile.contains("cargo build --release --locked --bins"),
        "the Dockerfile does not run `cargo build --release --locked --bins`"
    );
    let copy_line = dockerfile
        .lines()
        .find(|line| line.starts_with("COPY --from=builder"))
        .expect("the Dockerfile copies the binaries from the builder stage");

    for (binary, crate_dir) in BINARIES {
        let manifest = read_text(&root.join(crate_dir).join("Cargo.toml"));
        assert!(
            manifest.contains(&format!("name = \"{binary}\"")),
            "{crate_dir}/Cargo.toml does not declare the binary {binary}"
        );
        assert!(
            dockerfile.contains(&format!("-p {binary}")),
            "the Dockerfile does not build the package {binary}"
        );
        assert!(
            dockerfile.contains(&format!("target/release/{binary}")),
            "the Dockerfile does not take {binary} out of target/release"
        );
        assert!(
            copy_line.contains(&format!("/out/{binary}")),
            "the runtime stage does not copy {binary}"
        );
    }
}

#[test]
fn dockerfile_exposes_service_ports() {
    let root = workspace_root();
    let dockerfile = read_text(&root.join("Dockerfile"));
    let expose = dockerfile
        .lines()
        .find(|line| line.starts_with("EXPOSE"))
        .expect("the Dockerfile has EXPOSE");
    for env in [
        "CERTSTREAM_PORT",
        "CERTSTREAM_TCP_PORT",
        "CERTSTREAM_METRICS_PORT",
    ] {
        let port = default_of(env);
        assert!(
            expose.split_whitespace().any(|word| word == port),
            "EXPOSE lacks {port}, the default of {env}"
        );
    }
    assert!(
        dockerfile.contains("\nUSER 10001"),
        "the image does not run as a non-root user"
    );
    assert!(
        dockerfile.contains("COPY deploy/docker/healthcheck.sh "),
        "the image lacks the health check script"
    );
}

#[test]
fn dockerignore_keeps_build_inputs() {
    let ignored = read_text(&workspace_root().join(".dockerignore"));
    let patterns: Vec<&str> = ignored
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        "shared",
        "ingest",
        "decoder",
        "gateway",
        "tests",
        "deploy",
        "deploy/docker",
    ] {
        assert!(
            !patterns.contains(&needed),
            ".dockerignore excludes {needed}, which the image build needs"
        );
    }
}

/// Reads an HTTP request up to the end of its headers (at most 4 KiB or 5 seconds).
fn read_request_head(stream: &mut std::net::TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("set read timeout");
    let mut request = Vec::new();
    let mut buffer = [0u8; 256];
    while !request.ends_with(b"\r\n\r\n") && request.len() < 4096 {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => request.extend_from_slice(&buffer[..read]),
        }
    }
    String::from_utf8_lossy(&request).into_owned()
}

/// Sends `status_line` as the HTTP response to each of the next `connections` connections.
fn serve_status(listener: TcpListener, status_line: &'static str, connections: usize) {
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(mut stream) = stream else { continue };
            read_request_head(&mut stream);
            let response =
                format!("{status_line}\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n");
            let _ = stream.write_all(response.as_bytes());
        }
    });
}

/// Returns a local port with no listener (bound, then released).
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

fn run_healthcheck(metrics_port: u16, main_port: u16) -> Output {
    Command::new("bash")
        .arg(workspace_root().join("deploy/docker/healthcheck.sh"))
        .env("CERTSTREAM_METRICS_PORT", metrics_port.to_string())
        .env("CERTSTREAM_PORT", main_port.to_string())
        .output()
        .expect("start bash")
}

#[test]
fn healthcheck_script_probes_health() {
    let healthy = TcpListener::bind("127.0.0.1:0").expect("bind");
    let healthy_port = healthy.local_addr().expect("address").port();
    serve_status(healthy, "HTTP/1.1 200 OK", 2);
    let unhealthy = TcpListener::bind("127.0.0.1:0").expect("bind");
    let unhealthy_port = unhealthy.local_addr().expect("address").port();
    serve_status(unhealthy, "HTTP/1.1 503 Service Unavailable", 1);
    let nothing = closed_port();

    let metrics_ok = run_healthcheck(healthy_port, nothing);
    assert!(
        metrics_ok.status.success(),
        "200 on the metrics port: {metrics_ok:?}"
    );

    let gateway_ok = run_healthcheck(nothing, healthy_port);
    assert!(
        gateway_ok.status.success(),
        "200 on the main port: {gateway_ok:?}"
    );

    let unavailable = run_healthcheck(unhealthy_port, nothing);
    assert!(
        !unavailable.status.success(),
        "503 on the metrics port passed"
    );

    let closed = run_healthcheck(nothing, nothing);
    assert!(!closed.status.success(), "no listener passed");

    let dropping = TcpListener::bind("127.0.0.1:0").expect("bind");
    let dropping_port = dropping.local_addr().expect("address").port();
    std::thread::spawn(move || {
        if let Ok((stream, _)) = dropping.accept() {
            drop(stream);
        }
    });
    let dropped = run_healthcheck(dropping_port, nothing);
    assert_eq!(
        dropped.status.code(),
        Some(1),
        "a connection closed without a response: {dropped:?}"
    );
}

#[test]
fn healthcheck_request_is_well_formed() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let receiver = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let request = read_request_head(&mut stream);
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        request
    });

    let output = run_healthcheck(port, closed_port());
    let request = receiver.join().expect("receiver thread");

    assert!(output.status.success(), "health check failed: {output:?}");
    assert!(
        request.starts_with("GET /health HTTP/1.1\r\n"),
        "request: {request:?}"
    );
    assert!(
        request.contains("\r\nHost: "),
        "request without Host: {request:?}"
    );
}

// === Monitoring ===

/// `certstream_*` metric names in a PromQL expression.
fn certstream_metric_names(expression: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expression;
    while let Some(start) = rest.find("certstream_") {
        let tail = &rest[start..];
        let end = tail
            .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
            .unwrap_or(tail.len());
        names.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

fn rust_sources(dir: &Path, sources: &mut String) {
    for entry in
        std::fs::read_dir(dir).unwrap_or_else(|err| panic!("read {}: {err}", dir.display()))
    {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_sources(&path, sources);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            sources.push_str(&read_text(&path));
        }
    }
}

#[test]
fn dashboard_queries_registered_metrics() {
    let root = workspace_root();
    let dashboard: Value = serde_json::from_str(&read_text(
        &root.join("deploy/grafana/dashboards/certstream.json"),
    ))
    .expect("dashboard is valid JSON");
    let mut sources = String::new();
    for crate_dir in ["shared", "ingest", "decoder", "gateway"] {
        rust_sources(&root.join(crate_dir).join("src"), &mut sources);
    }

    let consumer = default_of("CERTSTREAM_NATS_DECODER_CONSUMER");
    let mut metrics_seen = 0;
    for panel in dashboard["panels"].as_array().expect("panels") {
        let title = panel["title"].as_str().unwrap_or("?");
        assert_eq!(panel["datasource"]["uid"], "prometheus", "panel {title}");
        for target in panel["targets"].as_array().expect("targets") {
            let expression = target["expr"].as_str().expect("expr");
            for name in certstream_metric_names(expression) {
                assert!(
                    sources.contains(&format!("\"{name}\"")),
                    "panel {title} queries {name}, which no service registers"
                );
                metrics_seen += 1;
            }
            if expression.contains("consumer_name=") {
                assert!(
                    expression.contains(&format!("consumer_name=\"{consumer}\"")),
                    "panel {title} does not select the decoder consumer {consumer}"
                );
            }
        }
    }
    assert!(
        metrics_seen >= 8,
        "the dashboard queries only {metrics_seen} certstream metrics"
    );
}

#[test]
fn grafana_datasource_matches_dashboard() {
    let root = workspace_root();
    let datasources =
        read_yaml(&root.join("deploy/grafana/provisioning/datasources/prometheus.yml"));
    assert_eq!(datasources["datasources"][0]["uid"], "prometheus");
    assert_eq!(datasources["datasources"][0]["type"], "prometheus");

    let provider = read_yaml(&root.join("deploy/grafana/provisioning/dashboards/certstream.yml"));
    let path = provider["providers"][0]["options"]["path"]
        .as_str()
        .expect("provider path");
    let compose = read_text(&root.join("docker-compose.yml"));
    assert!(
        compose.contains(&format!("./deploy/grafana/dashboards:{path}:ro")),
        "docker-compose.yml does not mount the dashboards at {path}"
    );
}
