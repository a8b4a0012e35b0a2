//! Loading components: the compiled-code cache, and malformed input.

use snakebox::{Error, Policy, Runtime};

use crate::util::{cache_dir, component};

#[test]
fn a_second_runtime_loads_from_the_compiled_cache() {
    let wasm = component("basics");
    // A cache of its own, so that what other tests compiled cannot count.
    let cache = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("compiled-cache-test");
    let _ = std::fs::remove_dir_all(&cache);
    let first = Runtime::with_cache_dir(Some(cache.clone())).expect("runtime");
    first.load(&wasm).expect("loads");
    assert_eq!(first.compilations(), 1, "an empty cache compiles");
    let compiled = std::fs::read_dir(cache.join("compiled"))
        .expect("cache dir")
        .count();
    assert_eq!(compiled, 1, "the compiled component is cached");
    let second = Runtime::with_cache_dir(Some(cache.clone())).expect("runtime");
    let app = second.load(&wasm).expect("loads from cache");
    assert!(app.functions().iter().any(|f| f.python_name == "add"));
    // From its bytes too (the content-hashed path, not the file identity).
    let bytes = std::fs::read(&wasm).expect("reads");
    second
        .load_bytes(&bytes, Policy::default())
        .expect("loads from cache");
    assert_eq!(second.compilations(), 0, "the cache was not hit");
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn malformed_components_are_clear_errors() {
    let runtime = Runtime::with_cache_dir(None).expect("runtime");
    let core_module = b"\0asm\x01\0\0\0".to_vec();
    let mut truncated = std::fs::read(component("basics")).expect("read");
    truncated.truncate(truncated.len() / 2);
    let not_a_component = "not a WebAssembly component (wrong magic number or layer)";
    // Each case: what the message says, and whether wasmtime's own error
    // is kept underneath.
    let cases: [(&str, Vec<u8>, &str, bool); 4] = [
        ("empty", Vec::new(), not_a_component, false),
        (
            "text",
            b"def add(a, b): return a + b".to_vec(),
            not_a_component,
            false,
        ),
        ("core module", core_module, not_a_component, false),
        (
            "truncated",
            truncated,
            "cannot read the sections of the component",
            true,
        ),
    ];
    for (name, bytes, expected, has_source) in cases {
        match runtime.load_bytes(&bytes, Policy::default()) {
            Err(error @ Error::BadComponent(_)) => {
                let Error::BadComponent(detail) = &error else {
                    unreachable!()
                };
                assert_eq!(detail.message(), expected, "{name}");
                assert_eq!(
                    std::error::Error::source(&error).is_some(),
                    has_source,
                    "{name}: {}",
                    crate::util::chain(&error)
                );
            }
            Err(other) => panic!("{name}: expected BadComponent, got {other}"),
            Ok(_) => panic!("{name}: loaded"),
        }
    }
    let missing = runtime
        .load("/nonexistent/app.wasm")
        .err()
        .expect("missing file");
    assert!(matches!(missing, Error::BadComponent(_)), "{missing}");
    // The error underneath is kept, for the caller to match on.
    let io = std::error::Error::source(&missing)
        .and_then(|source| source.downcast_ref::<std::io::Error>())
        .expect("the io error underneath");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn a_changed_file_at_the_same_path_is_not_mistaken_for_the_old_one() {
    let dir = cache_dir().join("identity");
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("app.wasm");
    let runtime = Runtime::with_cache_dir(Some(cache_dir())).expect("runtime");
    std::fs::copy(component("basics"), &path).expect("copy");
    let first = runtime.load(&path).expect("loads");
    assert!(first.functions().iter().any(|f| f.python_name == "add"));
    // Seen again unchanged: found by its identity.
    let again = runtime.load(&path).expect("loads again");
    assert_eq!(again.functions().len(), first.functions().len());
    std::fs::copy(component("aio"), &path).expect("replace");
    let replaced = runtime.load(&path).expect("loads the new file");
    assert!(
        replaced
            .functions()
            .iter()
            .any(|f| f.python_name == "guarded")
    );
    assert!(!replaced.functions().iter().any(|f| f.python_name == "add"));
}

#[cfg(unix)]
#[test]
fn a_cache_that_is_not_the_user_s_alone_is_refused() {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    use std::path::Path;

    use snakebox::builder::{self, BuildErrorKind};

    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("untrusted-cache");
    let _ = std::fs::remove_dir_all(&base);
    // A new cache is created private.
    let cache = base.join("nested").join("cache");
    Runtime::with_cache_dir(Some(cache.clone())).expect("a new cache");
    let mode = |path: &Path| std::fs::metadata(path).expect("exists").mode() & 0o7777;
    assert_eq!(mode(&cache), 0o700);

    let refused = |expected: &str| {
        let error = Runtime::with_cache_dir(Some(cache.clone()))
            .err()
            .expect("the runtime refuses it");
        let Error::Build(build) = &error else {
            panic!("expected an untrusted cache, got {error}");
        };
        assert_eq!(build.kind(), BuildErrorKind::UntrustedCache, "{error}");
        assert!(error.to_string().contains(expected), "{error}");
        assert!(error.to_string().contains("SNAKEBOX_CACHE_DIR"), "{error}");
        let error = builder::build(&crate::util::fixture("basics"), &cache)
            .err()
            .expect("the builder refuses it");
        assert_eq!(error.kind(), BuildErrorKind::UntrustedCache, "{error}");
    };
    // Anyone may write to it: refused by the runtime and the builder.
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    refused("anyone may write to it (mode 777)");
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    Runtime::with_cache_dir(Some(cache.clone())).expect("private again");
    // Another user's: refused (only root can give a folder away).
    if std::fs::metadata(&base).expect("base").uid() == 0 {
        let nobody = 65534;
        std::os::unix::fs::chown(&cache, Some(nobody), None).expect("chown");
        refused("belongs to user 65534");
    }
}

/// A fresh cache at `name` in the test folder, given the compiled forms of
/// `components` from the shared cache, so that nothing compiles again.
#[cfg(unix)]
fn cache_with_compiled(name: &str, components: &[&[u8]]) -> std::path::PathBuf {
    use sha2::{Digest as _, Sha256};

    let cache = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&cache);
    Runtime::with_cache_dir(Some(cache.clone())).expect("a new cache");
    std::fs::create_dir_all(cache.join("compiled")).expect("compiled/");
    for bytes in components {
        // The shared runtime compiles it (once per cache), in the flavor a
        // default policy loads.
        crate::util::runtime()
            .load_bytes(bytes, Policy::default())
            .expect("loads");
        let key = hex::encode(Sha256::digest(bytes));
        for entry in std::fs::read_dir(cache_dir().join("compiled")).expect("shared cache") {
            let path = entry.expect("entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name.starts_with(&key) {
                std::fs::copy(&path, cache.join("compiled").join(name)).expect("copied");
            }
        }
    }
    cache
}

/// `basics`' bytes, and a fresh cache `name` with its two compiled forms
/// (with and without epoch checks), and their paths.
#[cfg(unix)]
fn basics_compiled(name: &str) -> (Vec<u8>, std::path::PathBuf, Vec<std::path::PathBuf>) {
    let bytes = std::fs::read(component("basics")).expect("read");
    let cache = cache_with_compiled(name, &[&bytes]);
    let artifacts: Vec<std::path::PathBuf> = std::fs::read_dir(cache.join("compiled"))
        .expect("compiled/")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(artifacts.len(), 2, "both flavors' forms: {artifacts:?}");
    (bytes, cache, artifacts)
}

/// The error of loading `bytes` from `cache`, which must say it refuses an
/// untrusted entry, and `expected`.
#[cfg(unix)]
fn assert_untrusted(cache: &std::path::Path, bytes: &[u8], expected: &str) {
    use snakebox::builder::BuildErrorKind;

    let runtime = Runtime::with_cache_dir(Some(cache.to_owned())).expect("runtime");
    let error = runtime
        .load_bytes(bytes, Policy::default())
        .err()
        .unwrap_or_else(|| panic!("loaded despite: {expected}"));
    let Error::Build(build) = &error else {
        panic!("expected an untrusted cache entry ({expected}), got {error}");
    };
    assert_eq!(build.kind(), BuildErrorKind::UntrustedCache, "{error}");
    assert!(error.to_string().contains(expected), "{expected}: {error}");
    assert_eq!(runtime.compilations(), 0, "refused before compiling");
}

#[cfg(unix)]
#[test]
fn planted_compiled_code_is_refused() {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};

    let (bytes, cache, artifacts) = basics_compiled("planted-cache");
    let loads = || {
        let runtime = Runtime::with_cache_dir(Some(cache.clone())).expect("runtime");
        runtime
            .load_bytes(&bytes, Policy::default())
            .expect("loads");
        assert_eq!(runtime.compilations(), 0, "found in the cache");
    };
    loads();
    let chmod = |path: &std::path::Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    // An artifact anyone could have written.
    for artifact in &artifacts {
        chmod(artifact, 0o666);
    }
    assert_untrusted(&cache, &bytes, "anyone may write to it (mode 666)");
    for artifact in &artifacts {
        chmod(artifact, 0o600);
    }
    // A folder of the cache anyone could have written into.
    chmod(&cache.join("compiled"), 0o777);
    assert_untrusted(&cache, &bytes, "anyone may write to it (mode 777)");
    chmod(&cache.join("compiled"), 0o700);
    loads();
    // A link in place of the artifact, to code outside the cache.
    let outside = |artifact: &std::path::Path| cache.join(artifact.file_name().expect("name"));
    for artifact in &artifacts {
        std::fs::rename(artifact, outside(artifact)).expect("moved out");
        std::os::unix::fs::symlink(outside(artifact), artifact).expect("link");
    }
    assert_untrusted(&cache, &bytes, "is a symbolic link");
    for artifact in &artifacts {
        std::fs::remove_file(artifact).expect("unlink");
        std::fs::rename(outside(artifact), artifact).expect("moved back");
    }
    // Compiled functions that another user left: refused before wasmtime
    // compiles with them (the artifact is gone, so it would compile).
    let functions = cache.join("functions").join("plain");
    std::fs::create_dir_all(functions.parent().expect("folder")).expect("functions/");
    std::fs::write(&functions, b"planted").expect("planted");
    chmod(&functions, 0o666);
    for artifact in &artifacts {
        std::fs::remove_file(artifact).expect("removed");
    }
    assert_untrusted(
        &cache,
        &bytes,
        "functions/plain in the cache: anyone may write",
    );
    // Root can give a file away: an artifact another user owns.
    if std::fs::metadata(&cache).expect("cache").uid() == 0 {
        let cache = cache_with_compiled("planted-cache", &[&bytes]);
        for entry in std::fs::read_dir(cache.join("compiled")).expect("compiled/") {
            std::os::unix::fs::chown(entry.expect("entry").path(), Some(65534), None)
                .expect("chown");
        }
        assert_untrusted(&cache, &bytes, "belongs to user 65534");
    }
    let _ = std::fs::remove_dir_all(&cache);
}

#[cfg(unix)]
#[test]
fn unpacked_files_are_granted_only_as_the_component_carries_them() {
    use snakebox_generator::{bundle, description};

    // `basics` with two files of its own, as a build packs package data.
    let mut bytes = std::fs::read(component("basics")).expect("read");
    let files = vec![
        ("0/data/greeting.txt".to_owned(), b"hello".to_vec()),
        ("0/other.bin".to_owned(), vec![0, 1, 2]),
    ];
    description::append_section(&mut bytes, bundle::SECTION, &bundle::encode(&files));
    let cache = cache_with_compiled("unpacked-cache", &[&bytes]);
    let runtime = Runtime::with_cache_dir(Some(cache.clone())).expect("runtime");
    runtime
        .load_bytes(&bytes, Policy::default())
        .expect("loads, unpacking its files");
    let unpacked = std::fs::read_dir(cache.join("files"))
        .expect("files/")
        .map(|e| e.expect("entry").path())
        .find(|p| p.is_dir())
        .expect("the unpacked folder");
    assert_eq!(
        std::fs::read(unpacked.join("0/data/greeting.txt")).expect("unpacked"),
        b"hello"
    );
    let reload = || {
        runtime
            .load_bytes(&bytes, Policy::default())
            .expect("loads what it unpacked")
    };
    reload();
    // The folder `0` replaced by a link to the host's /etc.
    let zero = unpacked.join("0");
    std::fs::rename(&zero, unpacked.join("kept")).expect("moved");
    std::os::unix::fs::symlink("/etc", &zero).expect("link");
    assert_untrusted(&cache, &bytes, "is a symbolic link");
    std::fs::remove_file(&zero).expect("unlink");
    std::fs::rename(unpacked.join("kept"), &zero).expect("moved back");
    reload();
    // A file changed, one added, one taken away.
    let greeting = zero.join("data/greeting.txt");
    std::fs::write(&greeting, b"HELLO").expect("changed");
    assert_untrusted(&cache, &bytes, "greeting.txt was changed");
    std::fs::write(&greeting, b"hello").expect("restored");
    std::fs::write(zero.join("data/extra.py"), b"import os").expect("added");
    assert_untrusted(&cache, &bytes, "extra.py is not one of its files");
    std::fs::remove_file(zero.join("data/extra.py")).expect("removed");
    std::fs::remove_file(zero.join("other.bin")).expect("taken away");
    assert_untrusted(&cache, &bytes, "other.bin is missing");
    // The fix the error names: remove the folder, and it is unpacked again.
    std::fs::remove_dir_all(&unpacked).expect("removed");
    reload();
    assert_eq!(
        std::fs::read(zero.join("other.bin")).expect("unpacked again"),
        [0, 1, 2]
    );
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn a_component_with_too_many_files_is_refused() {
    use snakebox_generator::{bundle, description};

    let mut bytes = std::fs::read(component("basics")).expect("read");
    let files: Vec<(String, Vec<u8>)> = (0..=bundle::MAX_FILES)
        .map(|i| (format!("0/{i}"), Vec::new()))
        .collect();
    description::append_section(&mut bytes, bundle::SECTION, &bundle::encode(&files));
    let error = crate::util::runtime()
        .load_bytes(&bytes, Policy::default())
        .err()
        .expect("refused");
    assert!(matches!(error, Error::BadComponent(_)), "{error}");
    let chain = crate::util::chain(&error);
    assert!(
        chain.contains("50001 files, and a component carries at most 50000"),
        "{chain}"
    );
}

#[cfg(unix)]
#[test]
fn the_toolchain_in_the_cache_is_checked_before_it_runs() {
    use std::os::unix::fs::PermissionsExt as _;

    use snakebox::builder::{self, BuildErrorKind, COMPONENTIZE_PY_VERSION};

    let cache = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("untrusted-tools");
    let _ = std::fs::remove_dir_all(&cache);
    Runtime::with_cache_dir(Some(cache.clone())).expect("a new cache");
    // A planted componentize-py that anyone could have written.
    let package = cache
        .join("tools")
        .join(format!("componentize-py-{COMPONENTIZE_PY_VERSION}"))
        .join("componentize_py");
    std::fs::create_dir_all(&package).expect("tools/");
    let planted = package.join("__init__.py");
    std::fs::write(&planted, "raise SystemExit('planted code ran')").expect("planted");
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let error = builder::build(&crate::util::fixture("basics"), &cache)
        .err()
        .expect("the build refuses the toolchain");
    assert_eq!(error.kind(), BuildErrorKind::UntrustedCache, "{error}");
    assert!(
        error
            .to_string()
            .contains("componentize_py/__init__.py in the cache: anyone may write"),
        "{error}"
    );
    let _ = std::fs::remove_dir_all(&cache);
}

#[cfg(unix)]
#[test]
fn cache_prune_removes_what_went_unused_and_keeps_what_is_in_use() {
    use crate::util::{snakebox_with_env, stderr, stdout};

    let (bytes, cache, artifacts) = basics_compiled("prune-cache");
    // Everything last used 40 days ago; then the default flavor's form is
    // used again, which marks it.
    let long_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(40 * 86400);
    for artifact in &artifacts {
        std::fs::File::open(artifact)
            .and_then(|file| file.set_modified(long_ago))
            .expect("aged");
    }
    Runtime::with_cache_dir(Some(cache.clone()))
        .expect("runtime")
        .load_bytes(&bytes, Policy::default())
        .expect("loads");
    // What an interrupted build left a moment ago, and an old toolchain.
    std::fs::create_dir_all(cache.join("build/work-1")).expect("build/");
    std::fs::create_dir_all(cache.join("tools/componentize-py-0.1.0")).expect("tools/");
    let shown = cache.display().to_string();
    let prune = |args: &[&str]| {
        let mut all = vec!["cache", "prune"];
        all.extend_from_slice(args);
        let output = snakebox_with_env(&all, &[("SNAKEBOX_CACHE_DIR", &shown)]);
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
    };
    let exists = |path: &std::path::Path| std::fs::symlink_metadata(path).is_ok();
    let (used, unused): (Vec<_>, Vec<_>) = artifacts.iter().partition(|artifact| {
        std::fs::metadata(artifact)
            .and_then(|m| m.modified())
            .is_ok_and(|modified| modified > long_ago)
    });
    assert_eq!((used.len(), unused.len()), (1, 1), "one form was used");
    // A dry run lists, and removes nothing.
    let listed = prune(&["--dry-run"]);
    let name = |path: &std::path::Path| {
        path.file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned()
    };
    assert!(
        listed.contains(&format!("would remove compiled/{}", name(unused[0]))),
        "{listed}"
    );
    assert!(
        listed.contains("would remove tools/componentize-py-0.1.0"),
        "{listed}"
    );
    assert!(listed.contains("would remove 2 entries from"), "{listed}");
    assert!(!listed.contains(&name(used[0])), "{listed}");
    assert!(exists(unused[0]));
    // The real run: the unused form and the old toolchain go.
    let removed = prune(&[]);
    assert!(removed.contains("removed 2 entries"), "{removed}");
    assert!(!exists(unused[0]) && exists(used[0]));
    assert!(!exists(&cache.join("tools/componentize-py-0.1.0")));
    let runtime = Runtime::with_cache_dir(Some(cache.clone())).expect("runtime");
    runtime
        .load_bytes(&bytes, Policy::default())
        .expect("loads");
    assert_eq!(runtime.compilations(), 0, "what is in use was kept");
    // `0s` removes every entry, but not a build that may be running.
    let all = prune(&["--unused-for", "0s"]);
    assert!(
        all.contains(&format!("removed compiled/{}", name(used[0]))),
        "{all}"
    );
    assert!(!exists(used[0]));
    assert!(exists(&cache.join("build/work-1")), "{all}");
    let _ = std::fs::remove_dir_all(&cache);
}

/// "The compiled code is tied to the wasmtime version and the CPU features
/// of the machine that compiled it; on another, snakebox compiles again and
/// says so on the log": a compiled form it cannot use is set aside, with a
/// warning, and the component compiled again.
#[cfg(unix)]
#[test]
fn an_unusable_compiled_form_is_compiled_again_and_the_log_says_so() {
    use crate::util::{snakebox_with_env, stderr, stdout};

    let (_, cache, artifacts) = basics_compiled("unusable-cache");
    // The compiled functions come along, so the compile again is quick.
    let functions = cache_dir().join("functions");
    std::fs::create_dir_all(cache.join("functions")).expect("functions/");
    for entry in std::fs::read_dir(&functions).expect("the shared functions") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("name");
        std::fs::copy(&path, cache.join("functions").join(name)).expect("copied");
    }
    for artifact in &artifacts {
        std::fs::write(artifact, b"not a compiled component").expect("spoiled");
    }
    let basics = component("basics").display().to_string();
    let shown = cache.display().to_string();
    let output = snakebox_with_env(
        &["call", &basics, "add", "1", "2"],
        &[("SNAKEBOX_CACHE_DIR", &shown)],
    );
    assert_eq!(stdout(&output), "3", "{}", stderr(&output));
    let log = stderr(&output);
    assert!(log.contains("ignoring unreadable cache entry"), "{log}");
    assert!(log.contains("compiling the component"), "{log}");
    let _ = std::fs::remove_dir_all(&cache);
}

/// The files a component carries are shown to each store read-only, at
/// the path the build had them.
#[tokio::test]
async fn the_files_a_component_carries_are_read_only_to_the_guest() {
    use snakebox_generator::{bundle, description};

    let mut bytes = std::fs::read(component("hostile")).expect("read");
    let files = vec![("0/data/kept.txt".to_owned(), b"as built".to_vec())];
    description::append_section(&mut bytes, bundle::SECTION, &bundle::encode(&files));
    let app = crate::util::runtime()
        .load_bytes(&bytes, Policy::default())
        .expect("loads");
    let read = crate::util::call(&app, "read_file", &[serde_json::json!("/0/data/kept.txt")])
        .await
        .expect("readable");
    assert_eq!(read, "as built");
    for path in ["/0/data/kept.txt", "/0/data/new.txt"] {
        let error = crate::util::call(
            &app,
            "write_file",
            &[serde_json::json!(path), serde_json::json!("x")],
        )
        .await
        .expect_err("read-only");
        let python = error.python().unwrap_or_else(|| panic!("{error}"));
        assert!(
            python.type_name == "PermissionError"
                && python.message.contains("Operation not permitted"),
            "{path}: {python:?}"
        );
    }
}
