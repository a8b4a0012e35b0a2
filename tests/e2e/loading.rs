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
        ("truncated", truncated, "wasmtime cannot compile it", true),
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
