//! Values cross between Rust and Python unchanged, typed by the component.

use serde_json::{Value, json};

use crate::util::{app, call};
use snakebox::Calls as _;

async fn echo(name: &str, args: &[Value]) -> Value {
    crate::util::echo_in("basics", name, args).await
}

#[tokio::test]
async fn scalars_round_trip() {
    assert_eq!(
        echo("add", &[json!(-5), json!(i64::MAX - 1)]).await,
        json!(i64::MAX - 6)
    );
    for x in [0.0, -0.0, 1.5, -1e300, f64::MIN_POSITIVE] {
        let back = echo("echo_float", &[json!(x)]).await;
        let back = back.as_f64().expect("a number");
        assert_eq!(back.to_bits(), x.to_bits(), "{x}");
    }
    for special in ["NaN", "Infinity", "-Infinity"] {
        assert_eq!(echo("echo_float", &[json!(special)]).await, json!(special));
    }
    for s in ["", "plain", "ünïcödé ✓ 🐍", "line\nbreak\u{0}nul"] {
        assert_eq!(echo("echo_str", &[json!(s)]).await, json!(s));
    }
    assert_eq!(
        echo("echo_bytes", &[json!([0, 1, 255])]).await,
        json!([0, 1, 255])
    );
    assert_eq!(echo("echo_bytes", &[json!([])]).await, json!([]));
    assert_eq!(echo("negate", &[json!(true)]).await, json!(false));
    assert_eq!(echo("nothing", &[]).await, Value::Null);
}

#[tokio::test]
async fn containers_round_trip() {
    assert_eq!(
        echo("stats", &[json!([3.0, -1.0, 2.5])]).await,
        json!([-1.0, 3.0, 3])
    );
    assert_eq!(
        echo("word_lengths", &[json!(["a", "snake", "ü"])]).await,
        json!({"a": 1, "snake": 5, "ü": 1})
    );
    assert_eq!(echo("word_lengths", &[json!([])]).await, json!({}));
    assert_eq!(
        echo("nested", &[json!([[1, 2, 3], [], [4]])]).await,
        json!([[3, 2, 1], [], [4]])
    );
    assert_eq!(
        echo("find", &[json!({"x": 1, "y": 2}), json!("y")]).await,
        json!(2)
    );
    assert_eq!(
        echo("find", &[json!({"x": 1}), json!("z")]).await,
        Value::Null
    );
    assert_eq!(echo("maybe_double", &[json!(21)]).await, json!(42));
    assert_eq!(echo("maybe_double", &[Value::Null]).await, Value::Null);
}

#[tokio::test]
async fn defaults_and_keywords_follow_python() {
    let basics = app("basics");
    let greet = |args: Vec<Value>, named: Vec<(String, Value)>| {
        let basics = basics.clone();
        async move {
            basics
                .call_json("greet", &args, &named)
                .await
                .expect("greet")
        }
    };
    assert_eq!(
        greet(vec![json!("Ada")], vec![]).await,
        json!("Hello, Ada!")
    );
    assert_eq!(
        greet(vec![json!("Ada"), json!("Hi")], vec![]).await,
        json!("Hi, Ada!")
    );
    assert_eq!(
        greet(vec![json!("Ada")], vec![("punctuation".into(), json!("?"))]).await,
        json!("Hello, Ada?")
    );
    assert_eq!(
        greet(
            vec![],
            vec![
                ("name".into(), json!("Bo")),
                ("greeting".into(), json!("Yo"))
            ]
        )
        .await,
        json!("Yo, Bo!")
    );
}

#[tokio::test]
async fn every_codec_of_the_standard_library_is_there() {
    // Codecs are imported by name on first use, which a component cannot do
    // at run time: each is bundled, and encodes as native python3 does. The
    // list is native python3's own: every module of `encodings`, each asked
    // to encode the same text, its bytes or the exception it raises.
    let text = "façade ü€ ω";
    let script = format!(
        "import encodings, json, pkgutil\n\
         names = sorted(m.name for m in pkgutil.iter_modules(encodings.__path__)\n\
                        if not m.name.startswith('_') and m.name != 'aliases')\n\
         def outcome(name):\n\
         \x20   try:\n\
         \x20       return list({text:?}.encode(name))\n\
         \x20   except Exception as e:\n\
         \x20       return type(e).__name__\n\
         print(json.dumps([[n, outcome(n)] for n in names]))"
    );
    let native = std::process::Command::new(snakebox::builder::python())
        .args(["-c", &script])
        .output()
        .expect("python3 runs");
    assert!(
        native.status.success(),
        "{}",
        String::from_utf8_lossy(&native.stderr)
    );
    let expected: Vec<(String, Value)> = serde_json::from_slice(&native.stdout).expect("JSON");
    assert!(expected.len() > 100, "{} codecs", expected.len());
    let basics = app("basics");
    let mut differ = Vec::new();
    for (codec, native) in &expected {
        let sandboxed = match call(&basics, "encode", &[json!(text), json!(codec)]).await {
            Ok(bytes) => bytes,
            Err(error) => json!(error.python().map(|p| p.type_name.clone())),
        };
        if sandboxed != *native {
            differ.push(format!("{codec}: {sandboxed} natively {native}"));
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {}:\n{}",
        differ.len(),
        expected.len(),
        differ.join("\n")
    );
    let error = call(
        &app("basics"),
        "encode",
        &[json!("x"), json!("no-such-codec")],
    )
    .await
    .expect_err("unknown");
    assert_eq!(
        error.python().map(|p| p.type_name.as_str()),
        Some("LookupError"),
        "{error}"
    );
}
