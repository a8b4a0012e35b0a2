//! The value contract (`tests/fixtures/contract.json`) through typed
//! bindings generated from `contract.py`. For each case that is one
//! positional argument, the bindings' serde reading (`typed::from_json`)
//! must take what the host takes and refuse what it refuses; a value it
//! takes is called through the typed function, and the result must equal
//! the same reading of the JSON the table says comes back.

use std::fmt::Debug;

use snakebox::futures::StreamExt as _;
use snakebox::serde_json::Value;
use snakebox::typed::from_json;

include!(concat!(env!("OUT_DIR"), "/contract.rs"));

/// Equal; or, where both hold a NaN (which is not equal to itself, so
/// neither side equals itself), written the same.
fn same<T: PartialEq + Debug>(left: &T, right: &T) -> bool {
    #[expect(clippy::eq_op, reason = "a value unequal to itself holds a NaN")]
    let nan = left != left && right != right;
    left == right || (nan && format!("{left:?}") == format!("{right:?}"))
}

/// One case of the table, as the typed bindings see it.
struct Case<'a> {
    function: &'a str,
    argument: &'a Value,
    /// The result, the stream's items, or `None` for a refusal.
    expected: Option<&'a Value>,
}

/// Runs `case` through `method`; `Err` says how the bindings differ.
macro_rules! typed {
    ($contract:expr, $method:ident, $case:expr) => {{
        let case = $case;
        match (from_json(case.argument), case.expected) {
            (Err(_), None) => Ok(()),
            (Ok(_), None) => Err("takes what the host refuses".to_owned()),
            (Err(error), Some(_)) => Err(format!("refuses what the host takes: {error}")),
            (Ok(argument), Some(expected)) => {
                let got = $contract
                    .$method(argument)
                    .await
                    .map_err(|e| format!("the call failed: {e}"))?;
                let want = from_json(expected)
                    .map_err(|e| format!("cannot read the expected {expected}: {e}"))?;
                match same(&got, &want) {
                    true => Ok(()),
                    false => Err(format!("gave {got:?}, expected {want:?}")),
                }
            }
        }
    }};
}

async fn run(contract: &Contract, case: &Case<'_>) -> Result<(), String> {
    match case.function {
        "echo_int" => typed!(contract, echo_int, case),
        "echo_float" => typed!(contract, echo_float, case),
        "echo_bool" => typed!(contract, echo_bool, case),
        "echo_str" => typed!(contract, echo_str, case),
        "echo_bytes" => typed!(contract, echo_bytes, case),
        "echo_list" => typed!(contract, echo_list, case),
        "echo_tuple" => typed!(contract, echo_tuple, case),
        "echo_str_keys" => typed!(contract, echo_str_keys, case),
        "echo_enum_keys" => typed!(contract, echo_enum_keys, case),
        "echo_int_keys" => typed!(contract, echo_int_keys, case),
        "echo_pairs" => typed!(contract, echo_pairs, case),
        "echo_literal" => typed!(contract, echo_literal, case),
        "echo_color" => typed!(contract, echo_color, case),
        "echo_optional" => typed!(contract, echo_optional, case),
        "echo_point" => typed!(contract, echo_point, case),
        "echo_movie" => typed!(contract, echo_movie, case),
        "echo_pair" => typed!(contract, echo_pair, case),
        "echo_everything" => typed!(contract, echo_everything, case),
        "echo_union" => typed!(contract, echo_union, case),
        "echo_temperature" => typed!(contract, echo_temperature, case),
        "echo_any" => typed!(contract, echo_any, case),
        "each" => {
            let values: Vec<f64> = match (from_json(case.argument), case.expected) {
                (Err(_), None) => return Ok(()),
                (Ok(_), None) => return Err("takes what the host refuses".to_owned()),
                (Err(error), Some(_)) => {
                    return Err(format!("refuses what the host takes: {error}"));
                }
                (Ok(values), Some(_)) => values,
            };
            let items: Vec<f64> = contract
                .each(values)
                .map(|item| item.map_err(|e| format!("the stream failed: {e}")))
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<Result<_, _>>()?;
            let want: Vec<f64> = from_json(case.expected.unwrap_or(&Value::Null))
                .map_err(|e| format!("cannot read the expected items: {e}"))?;
            match same(&items, &want) {
                true => Ok(()),
                false => Err(format!("streamed {items:?}, expected {want:?}")),
            }
        }
        other => Err(format!("no typed check for `{other}`")),
    }
}

#[tokio::test]
async fn the_typed_bindings_read_json_as_the_host_does() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../tests/fixtures/contract.json"
    );
    let text = std::fs::read_to_string(path).expect("the table reads");
    let table: Value = snakebox::serde_json::from_str(&text).expect("the table is JSON");
    let runtime = snakebox::Runtime::new().expect("runtime");
    let contract = Contract::load(&runtime).expect("loads");
    // Functions whose typed form is not one argument as the host reads it:
    // several parameters, or a default (`Option` meaning "left out").
    let several = ["join", "greet", "fetch_url", "answer"];
    let (mut checked, mut failures) = (0, Vec::new());
    for row in table["rows"].as_array().expect("rows") {
        let function = row["function"].as_str().expect("a function");
        if several.contains(&function) {
            continue;
        }
        let accepted = row["accepted"].as_array().expect("accepted").iter();
        let refused = row["refused"].as_array().expect("refused").iter();
        for (entry, takes) in accepted
            .map(|e| (e, true))
            .chain(refused.map(|e| (e, false)))
        {
            let Some([argument]) = entry["body"].as_array().map(Vec::as_slice) else {
                continue;
            };
            let expected = match (takes, entry.get("items")) {
                (false, _) => None,
                (true, Some(items)) => Some(items),
                (true, None) => Some(&entry["result"]),
            };
            let case = Case {
                function,
                argument,
                expected,
            };
            checked += 1;
            if let Err(why) = run(&contract, &case).await {
                failures.push(format!("{function}({argument}): {why}"));
            }
        }
    }
    assert!(checked >= 100, "only {checked} cases checked");
    assert!(
        failures.is_empty(),
        "{} of {checked} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
