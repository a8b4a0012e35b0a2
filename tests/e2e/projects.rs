//! Real projects: PyPI dependencies, packages with submodules, and
//! components built elsewhere, from a hand-written WIT.

use serde_json::json;
use snakebox::Calls as _;
use snakebox::builder::{self, BuildOptions, Toolchain};

use crate::util::{app, cache_dir, call, fixture, root, runtime, snakebox, stderr, stdout};

/// Builds `tests/fixtures/pypi/{module}.py` with the requirements file of
/// that folder named `requirements`.
fn build_pypi(module: &str, requirements: &str) -> builder::Result<builder::Built> {
    let options = BuildOptions {
        requirements: Some(root().join("tests/fixtures/pypi").join(requirements)),
        ..BuildOptions::default()
    };
    let source = fixture(&format!("tests/fixtures/pypi/{module}.py"));
    builder::build_with(&source, &cache_dir(), &options)
}

/// What `expression` gives under native python3, with `packages` from
/// PyPI (installed into the test cache) importable, as JSON.
fn native_json(packages: &[&str], imports: &str, expression: &str) -> serde_json::Value {
    let paths: Vec<String> = packages
        .iter()
        .map(|package| crate::util::python_tool(package).display().to_string())
        .collect();
    let script = format!("import json\n{imports}\nprint(json.dumps({expression}))");
    let output = std::process::Command::new(builder::python())
        .args(["-c", &script])
        .current_dir(root())
        .env("PYTHONPATH", paths.join(":"))
        .output()
        .expect("python3 runs");
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_slice(&output.stdout).expect("JSON")
}

/// The same, loaded.
fn load_pypi(module: &str, requirements: &str) -> snakebox::App {
    let built = build_pypi(module, requirements).expect("builds with packages");
    runtime().load(&built.wasm).expect("loads")
}

#[tokio::test]
async fn pure_python_packages_from_pypi_are_bundled() {
    let app = load_pypi("dates", "requirements.txt");
    let again = build_pypi("dates", "requirements.txt").expect("second build");
    assert!(again.cached, "the second build reuses the cache");
    let months = call(
        &app,
        "months_between",
        &[json!("2024-01-15"), json!("2025-03-20")],
    )
    .await;
    assert_eq!(months.expect("dateutil works"), json!(14));
    let described = call(&app, "describe", &[json!("a"), json!("b")])
        .await
        .expect("attrs works");
    assert_eq!(described, json!("_Span(start='a', end='b')"));
}

#[test]
fn a_changed_module_is_rebuilt_without_running_pip_again() {
    let requirements = root().join("tests/fixtures/pypi/requirements.txt");
    let options = BuildOptions {
        requirements: Some(requirements.clone()),
        ..BuildOptions::default()
    };
    let source = fixture("tests/fixtures/pypi/dates.py");
    builder::build_with(&source, &cache_dir(), &options).expect("builds with packages");
    // The same requirements, a module no build has seen.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("pypi-reuse");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a folder");
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock")
        .as_nanos();
    let module = std::fs::read_to_string(&source).expect("reads") + &format!("\n# build {nonce}\n");
    std::fs::write(dir.join("dates.py"), module).expect("writes");
    // Every Python the build starts goes through this script, which logs it.
    let log = dir.join("python.log");
    let python = dir.join("python");
    std::fs::write(
        &python,
        format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\nexec python3 \"$@\"\n",
            log.display()
        ),
    )
    .expect("writes");
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&python)
        .status()
        .expect("chmod");
    let output = crate::util::snakebox_command()
        .arg("build")
        .arg(dir.join("dates.py"))
        .arg("--requirements")
        .arg(&requirements)
        .arg("-o")
        .arg(dir.join("dates.wasm"))
        .env("SNAKEBOX_PYTHON", &python)
        .output()
        .expect("snakebox runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let started = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        started.contains("componentize"),
        "the module was not built: {started}"
    );
    assert!(!started.contains("-m pip"), "pip ran again: {started}");
}

#[tokio::test]
async fn a_requirement_imported_inside_a_function_or_by_name_and_its_data_are_there() {
    let app = load_pypi("lazy", "lazy-requirements.txt");
    let rows = json!([["name", "legs"], ["ada", "4"], ["bob", "2"]]);
    let table = call(&app, "table", std::slice::from_ref(&rows))
        .await
        .expect("tabulate, imported lazily");
    // The same call under native python3, with the same tabulate.
    let expected = native_json(
        &["tabulate==0.9.0"],
        "import tabulate",
        &format!("tabulate.tabulate({rows}, headers='firstrow')"),
    );
    assert_eq!(table, expected);
    // A submodule nothing imported, loaded by its name.
    let easter = call(
        &app,
        "by_name",
        &[json!("dateutil.easter"), json!("EASTER_ORTHODOX")],
    )
    .await
    .expect("importlib.import_module by name");
    assert_eq!(easter, json!("2"));
    // Package data and distribution metadata, read as files at run time.
    for zone in ["Europe/Paris", "America/New_York", "Asia/Kolkata"] {
        let expected = native_json(
            &["pytz==2025.2"],
            "import datetime, pytz",
            &format!("str(pytz.timezone({zone:?}).utcoffset(datetime.datetime(2024, 7, 1)))"),
        );
        let got = call(&app, "utc_offset", &[json!(zone)])
            .await
            .expect("pytz finds its zone files");
        assert_eq!(got, expected, "{zone}");
    }
    // Every zone file starts with `TZif`, however it is read.
    let header = call(&app, "data_header", &[json!("pytz"), json!("zoneinfo/UTC")])
        .await
        .expect("open, importlib.resources and pkgutil");
    let tzif: Vec<u8> = b"TZif".to_vec();
    assert_eq!(header, json!([tzif, tzif, tzif]));
    let versions = [
        ("pytz", "2025.2"),
        ("tabulate", "0.9.0"),
        ("python-dateutil", "2.9.0.post0"),
    ];
    for (package, version) in versions {
        assert_eq!(
            call(&app, "version", &[json!(package)])
                .await
                .expect("importlib.metadata"),
            json!(version)
        );
    }
}

#[tokio::test]
async fn packages_without_a_pure_wheel_run_on_their_pure_half() {
    // jinja2 needs MarkupSafe; none of MarkupSafe, PyYAML and msgpack has a
    // pure wheel on PyPI, and each works without its native speedups.
    let app = load_pypi("speedups", "speedups-requirements.txt");
    assert_eq!(
        call(&app, "halves", &[]).await.expect("halves"),
        json!(["markupsafe._native", false, "msgpack.fallback"]),
        "the pure half runs"
    );
    // The same calls under native python3, with the packages' native halves.
    let native = |call: &str| {
        native_json(
            &["jinja2==3.1.6", "pyyaml==6.0.3", "msgpack==1.1.2"],
            "import sys; sys.path.insert(0, 'tests/fixtures/pypi'); import speedups",
            call,
        )
    };
    let template = "<p>{{ name }}</p>";
    assert_eq!(
        call(&app, "render", &[json!(template), json!("<b>&")])
            .await
            .expect("render"),
        native(&format!("speedups.render({template:?}, '<b>&')"))
    );
    let text = "b: [1, 2.5, null]\na: {x: y}\n";
    assert_eq!(
        call(&app, "load_yaml", &[json!(text)])
            .await
            .expect("load_yaml"),
        native(&format!("speedups.load_yaml({text:?})"))
    );
    assert_eq!(
        call(&app, "pack", &[json!([1, 300, -2])])
            .await
            .expect("pack"),
        native("list(speedups.pack([1, 300, -2]))")
    );
}

#[tokio::test]
async fn pinned_versions_without_a_wheel_for_the_guest_s_cpython_run_too() {
    // PyYAML 6.0.2 and msgpack 1.1.0 came out before CPython 3.14: their
    // pure half comes from an older CPython's wheel.
    let app = load_pypi("speedups", "pinned-requirements.txt");
    assert_eq!(
        call(&app, "versions", &[]).await.expect("versions"),
        json!(["6.0.2", "1.1.0"])
    );
    assert_eq!(
        call(&app, "halves", &[]).await.expect("halves"),
        json!(["markupsafe._native", false, "msgpack.fallback"])
    );
    assert_eq!(
        call(
            &app,
            "load_yaml",
            &[json!("b: [1, 2.5, null]\na: {x: y}\n")]
        )
        .await
        .expect("load_yaml"),
        json!("a:\n  x: y\nb:\n- 1\n- 2.5\n- null\n")
    );
    // {"values": [1, 300, -2], "n": 3} in MessagePack.
    assert_eq!(
        call(&app, "pack", &[json!([1, 300, -2])])
            .await
            .expect("pack"),
        json!([
            130, 166, 118, 97, 108, 117, 101, 115, 147, 1, 205, 1, 44, 254, 161, 110, 3
        ])
    );
}

#[test]
fn requirements_come_from_a_pyproject_too() {
    let output = snakebox(&[
        "run",
        "tests/fixtures/pypi/dates.py",
        "--requirements",
        "tests/fixtures/pypi/pyproject.toml",
        "months_between",
        "\"2024-01-15\"",
        "\"2025-03-20\"",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "14",
        "dateutil, from [project] dependencies"
    );
}

#[test]
fn a_package_without_a_pure_python_build_is_named_at_build_time() {
    let error = build_pypi("dates", "native-requirements.txt")
        .err()
        .expect("numpy cannot be bundled");
    let message = error.to_string();
    assert!(message.contains("numpy"), "{message}");
    assert!(message.contains("no pure-Python wheel"), "{message}");
}

#[tokio::test]
async fn packages_with_relative_and_lazy_imports_run() {
    let built =
        builder::build(&fixture("tests/fixtures/shop/api.py"), &cache_dir()).expect("builds");
    let app = runtime().load(&built.wasm).expect("loads");
    let names: Vec<&str> = app
        .functions()
        .iter()
        .map(|f| f.python_name.as_str())
        .collect();
    assert_eq!(
        names,
        ["total", "report"],
        "only the entry module is exported"
    );
    assert_eq!(
        call(&app, "total", &[json!([100, 250])])
            .await
            .expect("total"),
        json!(420)
    );
    assert_eq!(
        call(&app, "report", &[json!([100, 250])])
            .await
            .expect("lazy import"),
        json!("total: 4.20")
    );
}

#[tokio::test]
async fn a_module_imports_the_packages_beside_it() {
    // `helpers/` sits beside `app.py`; `setup.py` too, and it must not run.
    let app = app("tests/fixtures/beside/app.py");
    assert_eq!(
        call(&app, "greet", &[json!("ada")])
            .await
            .expect("a package beside it"),
        json!("HELLO ADA!")
    );
    assert_eq!(
        call(&app, "backwards", &[json!("abc")])
            .await
            .expect("its submodule, imported lazily"),
        json!("cba")
    );
}

#[tokio::test]
async fn a_package_folder_is_one_world_with_an_interface_per_module() {
    let app = app("zoo");
    let names: Vec<&str> = app
        .functions()
        .iter()
        .map(|f| f.call_name.as_str())
        .collect();
    // `care/__init__.py` exports nothing and `_names.py` is private.
    assert_eq!(
        names,
        [
            "zoo.version",
            "animals.describe",
            "animals.count",
            "care_feeding.feed",
            "care_feeding.count",
            "keepers.on_duty"
        ]
    );
    let interfaces: Vec<&str> = app
        .functions()
        .iter()
        .filter_map(|f| f.interface.as_deref())
        .collect();
    assert!(
        interfaces.contains(&"snakebox-py:zoo/care-feeding"),
        "{interfaces:?}"
    );
    let ada = json!({"name": "ada", "legs": 4});
    assert_eq!(
        call(&app, "animals.describe", &[ada])
            .await
            .expect("records per interface"),
        json!("ADA has 4 legs"),
        "the private module is bundled and its relative import works"
    );
    assert_eq!(
        call(&app, "care_feeding.count", &[])
            .await
            .expect("cross-module import"),
        json!(6)
    );
    let fed = app
        .call_json("feed", &[json!("bob")], &[("grams".into(), json!(5))])
        .await
        .expect("a name used once needs no module");
    assert_eq!(fed, json!("fed bob 5 g"));
    // By the full WIT name that `inspect` lists, too.
    let described = call(
        &app,
        "snakebox-py:zoo/animals#describe",
        &[json!({"name": "cy", "legs": 2})],
    )
    .await
    .expect("the full WIT name");
    assert_eq!(described, json!("CY has 2 legs"));
    for near in [
        "snakebox-py:zoo/animals#describ",
        "snakebox-py:zoo/animal#describe",
        "snakebox-py:zoo/animalsdescribe",
    ] {
        assert!(
            matches!(app.function(near), Err(snakebox::Error::NoSuchFunction(_))),
            "`{near}` names no function"
        );
    }
    // A bare name that two modules export names neither.
    match app.function("count") {
        Err(snakebox::Error::BadArguments(message)) => assert!(
            message.contains("ambiguous")
                && message.contains("animals.count")
                && message.contains("care_feeding.count"),
            "{message}"
        ),
        other => panic!(
            "`count` is in two modules: {:?}",
            other.map(|f| f.call_name.clone())
        ),
    }
    // `keepers.py` is unannotated; the stub beside it gives the types.
    let keepers = app.function("keepers.on_duty").expect("exported");
    assert_eq!(
        keepers.python_signature().as_deref(),
        Some("def on_duty(day: str) -> list[str]")
    );
    assert_eq!(
        call(&app, "keepers.on_duty", &[json!("monday")])
            .await
            .expect("on_duty"),
        json!(["ada", "bob"])
    );
    assert_eq!(
        call(&app, "version", &[]).await.expect("__init__"),
        json!("1.0")
    );
    let error = call(&app, "count", &[])
        .await
        .expect_err("two modules define count");
    let message = error.to_string();
    assert!(
        message.contains("animals.count") && message.contains("care_feeding.count"),
        "{message}"
    );
}

#[test]
fn the_cli_prints_a_package_world_and_calls_into_it() {
    let folder = fixture("zoo");
    let folder = folder.to_str().expect("UTF-8 path");
    let wit = snakebox(&["wit", folder]);
    assert!(wit.status.success(), "{}", stderr(&wit));
    let text = stdout(&wit);
    for line in [
        "package snakebox-py:zoo;",
        "interface animals {",
        "interface care-feeding {",
        "  export care-feeding;",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(!text.contains("names"), "private modules stay out:\n{text}");
    assert!(
        text.contains("on-duty: func(day: string) -> result<list<string>, python-error>;"),
        "the stub beside keepers.py types it:\n{text}"
    );
    assert!(
        !stderr(&wit).contains("SB112"),
        "nothing is left untyped: {}",
        stderr(&wit)
    );
    // `inspect` lists each module's functions by their full WIT names.
    let wasm = crate::util::component("zoo");
    let inspected = snakebox(&["inspect", wasm.to_str().expect("UTF-8 path")]);
    assert!(inspected.status.success(), "{}", stderr(&inspected));
    let listing = stdout(&inspected);
    for line in [
        "snakebox-py:zoo/animals#describe: func(animal: record { name: string, legs: s64 }) -> result<string, python-error>",
        "def describe(animal: Animal) -> str",
        "snakebox-py:zoo/care-feeding#feed: async func(name: string, grams: option<s64>) -> result<string, python-error>",
        "snakebox-py:zoo/keepers#on-duty: func(day: string) -> result<list<string>, python-error>",
        "The keepers on duty on `day`.",
    ] {
        assert!(listing.contains(line), "missing {line:?} in:\n{listing}");
    }
    let ran = snakebox(&["run", folder, "animals.count"]);
    assert!(ran.status.success(), "{}", stderr(&ran));
    assert_eq!(stdout(&ran).trim(), "3");
}

#[test]
fn package_mistakes_are_clear_errors() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("package-mistakes");
    let _ = std::fs::remove_dir_all(&dir);
    let package = dir.join("farm");
    std::fs::create_dir_all(package.join("barn")).expect("folders");
    let function = "def f() -> int:\n    return 1\n";
    for (file, source) in [
        ("__init__.py", ""),
        ("barn_door.py", function),
        ("barn/__init__.py", ""),
        ("barn/door.py", function),
    ] {
        std::fs::write(package.join(file), source).expect("write");
    }
    let error = builder::generate(&package)
        .err()
        .expect("two modules, one interface");
    let message = error.to_string();
    assert!(
        message.contains("farm.barn_door") && message.contains("farm.barn.door"),
        "{message}"
    );
    assert!(message.contains("`barn-door`"), "{message}");

    assert_eq!(error.kind(), builder::BuildErrorKind::Input);

    let error = builder::generate(&package.join("barn").join("..").join("..")).err();
    let message = error.expect("a folder without __init__.py").to_string();
    assert!(message.contains("without `__init__.py`"), "{message}");

    // A file that is not there: the io error is kept underneath.
    let error = builder::build(&package.join("missing.py"), &cache_dir())
        .err()
        .expect("nothing to build");
    assert_eq!(error.kind(), builder::BuildErrorKind::Io);
    let io = std::error::Error::source(&error)
        .and_then(|source| source.downcast_ref::<std::io::Error>())
        .expect("the io error underneath");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);

    std::fs::remove_file(package.join("barn/door.py")).expect("remove");
    std::fs::write(
        package.join("barn_door.py"),
        "def f(x) -> int:\n    return x\n",
    )
    .expect("write");
    let strict = snakebox_generator::Options { strict: true };
    let generated = builder::generate_with(&package, strict).expect("generates");
    assert!(generated.wit.is_none(), "nothing is left to export");
    let rendered = generated.rendered_diagnostics().join("\n");
    assert!(
        rendered.contains("barn_door.py:1:7") && rendered.contains("SB100"),
        "{rendered}"
    );
}

#[test]
fn components_built_elsewhere_are_inspected_and_called_by_their_own_types() {
    let dir = root().join("tests/fixtures/plain");
    // Named by its sources' content, so that an edit to the fixture is built.
    let mut sources = <sha2::Sha256 as sha2::Digest>::new();
    for file in ["app.py", "wit/plain.wit"] {
        sha2::Digest::update(&mut sources, std::fs::read(dir.join(file)).expect("reads"));
    }
    let key = hex::encode(sha2::Digest::finalize(sources));
    let output = cache_dir()
        .join("plain")
        .join(format!("plain-{}.wasm", &key[..16]));
    std::fs::create_dir_all(output.parent().expect("parent")).expect("dir");
    if !output.exists() {
        let toolchain = Toolchain::find_or_install(&cache_dir()).expect("componentize-py");
        toolchain
            .componentize(&dir.join("wit"), "plain", &[&dir], "app", &output)
            .expect("plain componentize-py build");
    }
    let wasm = output.to_str().expect("utf-8");
    let inspected = snakebox(&["inspect", wasm]);
    assert!(inspected.status.success(), "{}", stderr(&inspected));
    let listing = stdout(&inspected);
    assert!(
        listing.contains(
            "move-by: func(p: record { x: s32, y: s32 }, dx: s32) -> record { x: s32, y: s32 }"
        ),
        "{listing}"
    );
    assert!(
        listing.contains("checked-div: func(a: u32, b: u32) -> result<u32, string>"),
        "{listing}"
    );

    let cases: &[(&[&str], &str)] = &[
        (&["move_by", r#"{"x": 1, "y": 2}"#, "5"], r#"{"x":6,"y":2}"#),
        (&["next-color", r#""blue""#], r#""red""#),
        (&["area", r#"{"square": {"x": 3, "y": 4}}"#], "12.0"),
        (&["area", r#"{"circle": 1.0}"#], "3.0"),
        (&["area", r#""empty""#], "0.0"),
        (&["checked_div", "7", "2"], r#"{"ok":3}"#),
        (&["checked_div", "7", "0"], r#"{"err":"division by zero"}"#),
        (&["first_char", r#""snake""#], r#""s""#),
        (&["first_char", r#""""#], "null"),
        (&["swap", r#"["x", 7]"#], r#"[7,"x"]"#),
        (&["grant", r#"["write"]"#], r#"["read","write"]"#),
        (&["longest", r#"["a", "abc", "ab"]"#], r#""abc""#),
    ];
    for (args, expected) in cases {
        let mut full = vec!["call", wasm];
        full.extend_from_slice(args);
        let output = snakebox(&full);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        assert_eq!(stdout(&output), *expected, "{args:?}");
    }
    let bad = snakebox(&["call", wasm, "next_color", r#""purple""#]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("unknown case `purple`"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn wit_from_a_stub_alone() {
    let dir = cache_dir().join("stubs");
    std::fs::create_dir_all(&dir).expect("dir");
    let stub = dir.join("remote_api.pyi");
    std::fs::write(
        &stub,
        "async def fetch(url: str, retries: int = 3) -> bytes: ...\ndef parse(data: bytes) -> dict[str, int]: ...\n",
    )
    .expect("write");
    let output = snakebox(&["wit", "--from", stub.to_str().expect("utf-8")]);
    assert!(output.status.success(), "{}", stderr(&output));
    let wit = stdout(&output);
    assert!(wit.contains("fetch: async func(url: string, retries: option<s64>) -> result<list<u8>, python-error>;"), "{wit}");
    assert!(
        wit.contains(
            "parse: func(data: list<u8>) -> result<list<tuple<string, s64>>, python-error>;"
        ),
        "{wit}"
    );
    let build = snakebox(&["build", stub.to_str().expect("utf-8"), "-o", "/dev/null"]);
    assert_eq!(build.status.code(), Some(1));
    assert!(stderr(&build).contains("is a stub"), "{}", stderr(&build));
}

#[test]
fn package_data_over_the_limits_is_refused_unread() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let package = dir.path().join("heavy");
    std::fs::create_dir_all(&package).expect("package");
    std::fs::write(package.join("__init__.py"), "").expect("__init__.py");
    std::fs::write(package.join("api.py"), "def f() -> int:\n    return 1\n").expect("api.py");
    // 257 MiB that take no room on disk: refused by its size, not read.
    let blob = std::fs::File::create(package.join("blob.bin")).expect("blob");
    blob.set_len((256 << 20) + (1 << 20)).expect("sparse");
    let error = builder::build(&package.join("api.py"), &crate::util::cache_dir())
        .err()
        .expect("refused");
    assert_eq!(error.kind(), builder::BuildErrorKind::Input, "{error}");
    let message = error.to_string();
    assert!(
        message.contains("MiB of files, and a component carries at most 256 MiB")
            && message.contains("blob.bin"),
        "{message}"
    );
}

/// "A module that does not import in the sandbox (one for another
/// platform) is left out, and the build log says so in one line."
#[test]
fn a_requirement_s_module_that_does_not_import_is_left_out_in_one_log_line() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("left-out");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a folder");
    // A wheel with one module that raises when imported, as a module for
    // another platform does.
    let wheel = dir.join("badmod-1.0-py3-none-any.whl");
    let script = r#"
import base64, hashlib, sys, zipfile
files = {
    "badmod/__init__.py": "VALUE = 1\n",
    "badmod/broken.py": "raise ImportError('needs a platform the sandbox is not')\n",
    "badmod-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: badmod\nVersion: 1.0\n",
    "badmod-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
def entry(name, text):
    digest = hashlib.sha256(text.encode()).digest()
    return f"{name},sha256={base64.urlsafe_b64encode(digest).rstrip(b'=').decode()},{len(text.encode())}\n"
record = "".join(entry(n, t) for n, t in files.items()) + "badmod-1.0.dist-info/RECORD,,\n"
with zipfile.ZipFile(sys.argv[1], "w") as wheel:
    for name, text in files.items():
        wheel.writestr(name, text)
    wheel.writestr("badmod-1.0.dist-info/RECORD", record)
"#;
    let made = std::process::Command::new(snakebox::builder::python())
        .args(["-c", script])
        .arg(&wheel)
        .status()
        .expect("python3 runs");
    assert!(made.success());
    std::fs::write(
        dir.join("requirements.txt"),
        format!("{}\n", wheel.display()),
    )
    .expect("requirements");
    // A module of its own each run, so that it is built (and logs) anew.
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock")
        .as_nanos();
    std::fs::write(
        dir.join("app.py"),
        format!("# run {run}\ndef value() -> int:\n    import badmod\n    return badmod.VALUE\n"),
    )
    .expect("app.py");
    let requirements = dir.join("requirements.txt").display().to_string();
    let app = dir.join("app.py").display().to_string();
    let output = crate::util::snakebox(&["run", &app, "value", "--requirements", &requirements]);
    assert_eq!(
        crate::util::stdout(&output),
        "1",
        "{}",
        crate::util::stderr(&output)
    );
    let log = crate::util::stderr(&output);
    let said: Vec<&str> = log.lines().filter(|l| l.contains("left out")).collect();
    assert_eq!(said.len(), 1, "{log}");
    assert!(
        said[0].contains(
            "1 of 2 modules of the requirements do not import here and are left out: badmod.broken"
        ),
        "{log}"
    );
}
