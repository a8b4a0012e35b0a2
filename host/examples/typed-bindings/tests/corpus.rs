//! The end-to-end tests' JSON corpus (`tests/fixtures/corpus.py`) read
//! through typed bindings: each value lifted from a result equals what
//! the bindings' serde reading (`typed::from_json`) makes of `call_json`'s
//! JSON of it, lowers back as an argument to
//! itself, and comes the same as a stream item.

use std::fmt::Debug;

use snakebox::Calls as _;
use snakebox::futures::StreamExt as _;

include!(concat!(env!("OUT_DIR"), "/corpus.rs"));

/// Equal; or, where both hold a NaN (which is not equal to itself, so
/// neither side equals itself), written the same.
fn assert_same<T: PartialEq + Debug>(left: &T, right: &T, what: &str) {
    #[expect(clippy::eq_op, reason = "a value unequal to itself holds a NaN")]
    let nan = left != left && right != right;
    assert!(
        left == right || (nan && format!("{left:?}") == format!("{right:?}")),
        "{what}: {left:?} against {right:?}"
    );
}

macro_rules! check {
    ($corpus:expr, $name:literal, $count:expr, $result:ident, $stream:ident, $echo:ident) => {{
        let corpus = &$corpus;
        let mut results = Vec::new();
        for i in 0..$count {
            let value = corpus.$result(i).await.expect(concat!("result_", $name));
            let json = corpus
                .app()
                .call_json(concat!("result_", $name), &[i.into()], &[])
                .await
                .expect("call_json");
            let read = snakebox::typed::from_json(&json)
                .unwrap_or_else(|e| panic!("{}: serde reads {json}: {e}", $name));
            assert_same(&value, &read, concat!($name, ": lifted against serde"));
            let echoed = corpus
                .$echo(value.clone())
                .await
                .expect(concat!("echo_", $name));
            assert_same(&echoed, &value, concat!($name, ": lowered and lifted back"));
            results.push(value);
        }
        let streamed: Vec<_> = corpus
            .$stream()
            .map(|item| item.expect(concat!("stream_", $name)))
            .collect()
            .await;
        assert_same(
            &streamed,
            &results,
            concat!($name, ": stream items against results"),
        );
    }};
}

#[tokio::test]
async fn every_corpus_value_reads_the_same_through_typed_bindings() {
    let runtime = snakebox::Runtime::new().expect("runtime");
    let corpus = Corpus::load(&runtime).expect("loads");
    check!(
        corpus,
        "loose_or_boxed",
        2,
        result_loose_or_boxed,
        stream_loose_or_boxed,
        echo_loose_or_boxed
    );
    check!(
        corpus,
        "float_or_int",
        4,
        result_float_or_int,
        stream_float_or_int,
        echo_float_or_int
    );
    check!(
        corpus,
        "bytes_or_str",
        4,
        result_bytes_or_str,
        stream_bytes_or_str,
        echo_bytes_or_str
    );
    check!(corpus, "keyed", 2, result_keyed, stream_keyed, echo_keyed);
    check!(corpus, "pairs", 3, result_pairs, stream_pairs, echo_pairs);
    check!(
        corpus,
        "color_counts",
        1,
        result_color_counts,
        stream_color_counts,
        echo_color_counts
    );
    check!(
        corpus,
        "int_keys",
        1,
        result_int_keys,
        stream_int_keys,
        echo_int_keys
    );
    check!(
        corpus,
        "floats",
        5,
        result_floats,
        stream_floats,
        echo_floats
    );
    check!(corpus, "maybe", 3, result_maybe, stream_maybe, echo_maybe);
    check!(corpus, "modes", 2, result_modes, stream_modes, echo_modes);
    check!(corpus, "any", 5, result_any, stream_any, echo_any);
    check!(corpus, "nodes", 2, result_nodes, stream_nodes, echo_nodes);
    check!(corpus, "wide", 7, result_wide, stream_wide, echo_wide);
    check!(
        corpus,
        "movies",
        2,
        result_movies,
        stream_movies,
        echo_movies
    );
    check!(
        corpus,
        "named_pairs",
        2,
        result_named_pairs,
        stream_named_pairs,
        echo_named_pairs
    );
    check!(corpus, "held", 7, result_held, stream_held, echo_held);
    // A union's cases stay apart: Boxed does not come back as Loose.
    let boxed = corpus.result_loose_or_boxed(1).await.expect("boxed");
    assert_eq!(boxed, LooseOrBoxed::Boxed(Boxed { count: 2 }));
}
