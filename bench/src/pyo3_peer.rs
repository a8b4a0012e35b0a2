//! The PyO3 peer: the machine's native CPython embedded in this process.
//! One interpreter, one GIL: no isolation between callers.

use std::path::Path;

use anyhow::Context as _;
use pyo3::prelude::*;
use pyo3::types::PyList;

/// The imported benchmark module and its async driver.
pub struct Pyo3 {
    peers: Py<PyModule>,
    driver: Py<PyModule>,
}

impl Pyo3 {
    /// Starts the interpreter (once per process) and imports the modules in `dir`.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let dir = dir
            .to_str()
            .context("the fixture path is not UTF-8")?
            .to_owned();
        Python::attach(|py| -> PyResult<Self> {
            let path = py.import("sys")?.getattr("path")?;
            path.call_method1("insert", (0, dir))?;
            Ok(Pyo3 {
                peers: py.import("peers")?.unbind(),
                driver: py.import("pyo3_driver")?.unbind(),
            })
        })
        .map_err(python_error)
    }

    pub fn add(&self, a: i64, b: i64) -> anyhow::Result<i64> {
        Python::attach(|py| {
            self.peers
                .bind(py)
                .getattr("add")?
                .call1((a, b))?
                .extract::<i64>()
        })
        .map_err(python_error)
    }

    pub fn echo(&self, text: &str) -> anyhow::Result<String> {
        Python::attach(|py| {
            self.peers
                .bind(py)
                .getattr("echo")?
                .call1((text,))?
                .extract::<String>()
        })
        .map_err(python_error)
    }

    pub fn scale(&self, values: &[f64]) -> anyhow::Result<Vec<f64>> {
        Python::attach(|py| {
            let list = PyList::new(py, values)?;
            self.peers
                .bind(py)
                .getattr("scale")?
                .call1((list,))?
                .extract::<Vec<f64>>()
        })
        .map_err(python_error)
    }

    /// Calls a function of one `int` argument that returns an `int`.
    pub fn call_int(&self, name: &str, arg: i64) -> anyhow::Result<i64> {
        Python::attach(|py| {
            self.peers
                .bind(py)
                .getattr(name)?
                .call1((arg,))?
                .extract::<i64>()
        })
        .map_err(python_error)
    }

    /// A new `Counter()` of `peers.py`.
    pub fn counter(&self) -> anyhow::Result<Py<PyAny>> {
        Python::attach(|py| Ok(self.peers.bind(py).getattr("Counter")?.call0()?.unbind()))
            .map_err(python_error)
    }

    /// `counter.add(n)`, a method call on a Python object.
    pub fn counter_add(&self, counter: &Py<PyAny>, n: i64) -> anyhow::Result<i64> {
        Python::attach(|py| counter.bind(py).call_method1("add", (n,))?.extract::<i64>())
            .map_err(python_error)
    }

    /// Makes a `Counter()` and lets it go.
    pub fn counter_round_trip(&self) -> anyhow::Result<()> {
        Python::attach(|py| self.peers.bind(py).getattr("Counter")?.call0().map(drop))
            .map_err(python_error)
    }

    /// `count` concurrent `nap()` calls on one event loop of this thread.
    pub fn naps(&self, count: usize) -> anyhow::Result<()> {
        self.drive("run_many", "nap", count)
    }

    /// `count` calls of the async function `name` on one event loop of
    /// this thread: concurrent (`run_many`) or one after another
    /// (`run_in_turn`).
    pub fn drive(&self, how: &str, name: &str, count: usize) -> anyhow::Result<()> {
        Python::attach(|py| {
            self.driver
                .bind(py)
                .getattr(how)?
                .call1((name, count))
                .map(drop)
        })
        .map_err(python_error)
    }
}

fn python_error(error: PyErr) -> anyhow::Error {
    anyhow::anyhow!("Python raised: {error}")
}
