//! The end-to-end tests' type table (`tests/fixtures/types_table.py`)
//! through typed bindings: every kind of parameter Python has, and the
//! values that have no single Rust type (`Any`, keys that may be absent).

use std::collections::HashMap;

use snakebox::serde_json::json;

include!(concat!(env!("OUT_DIR"), "/types_table.rs"));

fn table() -> TypesTable {
    let runtime = snakebox::Runtime::new().expect("runtime");
    TypesTable::load(&runtime).expect("loads")
}

#[tokio::test]
async fn positional_only_and_keyword_only_parameters_are_plain_arguments() -> snakebox::Result<()> {
    // `def kinds(a: int, /, b: int, *, c: int)`: Rust has one argument for
    // each, in order, and Python gets each the way it asks for it.
    assert_eq!(table().kinds(1, 2, 3).await?, "1-2-3");
    Ok(())
}

#[tokio::test]
async fn var_args_and_keywords_are_optional_collections() -> snakebox::Result<()> {
    let table = table();
    assert_eq!(table.total(Some(vec![1, 2, 3])).await?, 6);
    assert_eq!(table.total(None).await?, 0, "`*values` left out");
    let options = HashMap::from([
        ("a".to_owned(), "1".to_owned()),
        ("b".to_owned(), "2".to_owned()),
    ]);
    let mut passed = table.keywords(Some(options)).await?;
    passed.sort();
    assert_eq!(passed, ["a=1", "b=2"]);
    assert!(
        table.keywords(None).await?.is_empty(),
        "`**options` left out"
    );
    // Named types inside `*args` and `**kwargs`, next to a default.
    let points = vec![Point { x: 0.0, y: 1.0 }, Point { x: 2.0, y: 3.0 }];
    let extra = HashMap::from([(
        "p".to_owned(),
        Pair {
            left: 7,
            right: String::new(),
        },
    )]);
    let label = Movie {
        title: "Up".into(),
        year: 2009,
    };
    let painted = table
        .paint(
            Some(Color::Red),
            Some(points),
            Some(Some(label)),
            Some(extra),
        )
        .await?;
    assert_eq!(painted, "RED 2 Up [('p', 7)]");
    assert_eq!(table.paint(None, None, None, None).await?, "GREEN 0 - []");
    Ok(())
}

#[tokio::test]
async fn defaults_and_optional_none_defaults() -> snakebox::Result<()> {
    let table = table();
    // `None` leaves a parameter out: Python's own default is used.
    assert_eq!(table.with_default(None, None).await?, "");
    assert_eq!(
        table
            .with_default(Some(vec![1, 2]), Some("-".into()))
            .await?,
        "1-2"
    );
    // `Optional[T] = None` is `Option<Option<T>>`: left out, `None`, a value.
    assert_eq!(table.maybe(None).await?, "none");
    assert_eq!(table.maybe(Some(None)).await?, "none");
    assert_eq!(table.maybe(Some(Some(4))).await?, "some 4");
    Ok(())
}

#[tokio::test]
async fn any_is_a_json_value() -> snakebox::Result<()> {
    let table = table();
    let value = json!({"a": [1, 2.5, null, true, "ü"], "b": {}});
    assert_eq!(table.echo_any(value.clone()).await?, value);
    assert_eq!(table.echo_object(json!("text")).await?, json!("text"));
    assert_eq!(table.any_kind(json!({"k": 1})).await?, "dict");
    assert_eq!(table.any_kind(json!([1])).await?, "list");
    let error = table.not_json().await.expect_err("a set is not JSON");
    assert_eq!(
        error.python().map(|p| p.type_name.as_str()),
        Some("TypeError"),
        "{error}"
    );
    Ok(())
}

#[tokio::test]
async fn keys_that_may_be_absent_are_options() -> snakebox::Result<()> {
    let table = table();
    // `None` leaves the key out of the dict Python gets; `Some(None)` (for an
    // `Optional` value) puts it in with `None`.
    let sparse = Options {
        verbose: None,
        name: "n".into(),
        level: None,
    };
    let query = Query {
        text: "t".into(),
        limit: None,
    };
    assert_eq!(
        table.option_keys(sparse.clone(), query.clone()).await?,
        ["name", "text"]
    );
    let full = Options {
        verbose: Some(false),
        name: "n".into(),
        level: Some(None),
    };
    let limited = Query {
        text: "t".into(),
        limit: Some(3),
    };
    assert_eq!(
        table.option_keys(full.clone(), limited.clone()).await?,
        ["level", "name", "verbose", "limit", "text"]
    );
    // And back: a key Python left out is `None`.
    let (options, query) = table.echo_options(sparse.clone(), query).await?;
    assert_eq!((options, query.limit), (sparse, None));
    let (options, query) = table.echo_options(full, limited).await?;
    assert_eq!(
        (options.verbose, options.level, query.limit),
        (Some(false), Some(None), Some(3))
    );
    Ok(())
}
