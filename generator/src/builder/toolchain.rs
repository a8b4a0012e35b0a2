//! Finds or installs componentize-py, pinned to the version snakebox targets.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{BuildError, Result, failure};

/// The componentize-py release snakebox builds with.
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.1";

/// How to run componentize-py.
pub enum Toolchain {
    /// An executable given by `SNAKEBOX_COMPONENTIZE_PY` or found on `PATH`.
    Program(PathBuf),
    /// The wheel installed by snakebox into its cache, run by `python`.
    Installed {
        /// The Python that runs it.
        python: PathBuf,
        /// The folder pip installed it into.
        dir: PathBuf,
    },
}

impl Toolchain {
    /// Uses `SNAKEBOX_COMPONENTIZE_PY`, then snakebox's own install in the
    /// cache, then `componentize-py` on `PATH` if it is the pinned version;
    /// else installs the pinned version into the cache with pip.
    pub fn find_or_install(cache_dir: &Path) -> Result<Toolchain> {
        if let Some(program) = std::env::var_os("SNAKEBOX_COMPONENTIZE_PY") {
            return Ok(Toolchain::Program(PathBuf::from(program)));
        }
        let python = python();
        let dir = cache_dir
            .join("tools")
            .join(format!("componentize-py-{COMPONENTIZE_PY_VERSION}"));
        if dir.join("componentize_py").is_dir() {
            // What it runs must be the user's as the cache is, with no
            // link leading out of it.
            super::check_entry(&cache_dir.join("tools"))?;
            super::check_tree(&dir)?;
            return Ok(Toolchain::Installed { python, dir });
        }
        if version_of(Path::new("componentize-py"))
            .is_some_and(|v| v.contains(COMPONENTIZE_PY_VERSION))
        {
            return Ok(Toolchain::Program(PathBuf::from("componentize-py")));
        }
        install(&python, &dir)?;
        Ok(Toolchain::Installed { python, dir })
    }

    /// componentize-py, told the WIT folder, the world and the names of
    /// exported interfaces.
    fn world_command(
        &self,
        wit_dir: &Path,
        world: &str,
        interface_names: &[(String, String)],
    ) -> Command {
        let mut command = self.command();
        command.arg("-d").arg(wit_dir).arg("-w").arg(world);
        for (interface, name) in interface_names {
            command
                .arg("--export-interface-name")
                .arg(format!("{interface}={name}"));
        }
        command
    }

    fn command(&self) -> Command {
        match self {
            Toolchain::Program(program) => Command::new(program),
            Toolchain::Installed { python, dir } => {
                let mut command = Command::new(python);
                command.env("PYTHONPATH", dir).arg("-c").arg(
                    "import sys; sys.argv[0] = 'componentize-py'; \
                     from componentize_py import script; sys.exit(script())",
                );
                command
            }
        }
    }

    /// Runs `componentize-py componentize`; its log (less its stack
    /// backtrace) is the error when it fails.
    pub fn componentize(
        &self,
        wit_dir: &Path,
        world: &str,
        python_path: &[&Path],
        app: &str,
        output: &Path,
    ) -> Result<()> {
        let failed = self.componentize_log(wit_dir, world, &[], python_path, app, output)?;
        failed.map_or(Ok(()), |log| Err(command_error("componentize", &log)))
    }

    /// Runs `componentize-py bindings`: the Python bindings of `world` in
    /// the WIT folder `wit_dir`, written into `output`. `interface_names`
    /// renames exported interfaces as a build does (see
    /// [`crate::glue::interface_names`]).
    pub fn bindings(
        &self,
        wit_dir: &Path,
        world: &str,
        interface_names: &[(String, String)],
        output: &Path,
    ) -> Result<()> {
        let mut command = self.world_command(wit_dir, world, interface_names);
        command.arg("bindings").arg(output);
        let failed = self.run(command)?;
        failed.map_or(Ok(()), |log| Err(command_error("bindings", &log)))
    }

    /// Runs `componentize-py componentize`: `None` when it succeeded, else
    /// its whole log.
    /// `interface_names` renames exported interfaces on componentize-py's
    /// side: `(interface, Python module name)`.
    pub(crate) fn componentize_log(
        &self,
        wit_dir: &Path,
        world: &str,
        interface_names: &[(String, String)],
        python_path: &[&Path],
        app: &str,
        output: &Path,
    ) -> Result<Option<String>> {
        let mut command = self.world_command(wit_dir, world, interface_names);
        command.arg("componentize");
        for dir in python_path {
            if dir.is_dir() {
                command.arg("-p").arg(dir);
            }
        }
        command.arg(app).arg("-o").arg(output);
        self.run(command)
    }

    /// Runs a componentize-py command: `None` when it succeeded, else its
    /// whole log.
    fn run(&self, mut command: Command) -> Result<Option<String>> {
        let result = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| BuildError::toolchain("cannot run componentize-py").with_source(e))?;
        if result.status.success() {
            return Ok(None);
        }
        let mut log = format!("componentize-py exited with {}\n", result.status);
        log.push_str(&String::from_utf8_lossy(&result.stderr));
        log.push_str(&String::from_utf8_lossy(&result.stdout));
        Ok(Some(log))
    }
}

/// The error of a componentize-py `command` that failed: its log, less
/// its stack backtrace.
fn command_error(command: &str, log: &str) -> BuildError {
    BuildError::toolchain(format!(
        "componentize-py {command} failed:\n{}",
        trim_log(failure::without_backtrace(log))
    ))
}

/// The Python that runs pip and the installed wheel: `$SNAKEBOX_PYTHON`, else `python3`.
pub fn python() -> PathBuf {
    PathBuf::from(std::env::var_os("SNAKEBOX_PYTHON").unwrap_or("python3".into()))
}

/// `python -m pip install --target DIR`, quiet about versions, root and prompts.
pub fn pip_install(python: &Path, target: &Path) -> Command {
    let mut command = Command::new(python);
    command
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
        ])
        .arg("--root-user-action=ignore")
        .arg("--target")
        .arg(target);
    command
}

fn version_of(program: &Path) -> Option<String> {
    let output = Command::new(program)
        .arg("--version")
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

fn install(python: &Path, dir: &Path) -> Result<()> {
    let hint = format!(
        "install it by hand with `{} -m pip install --target {} componentize-py=={COMPONENTIZE_PY_VERSION}`, \
         or set SNAKEBOX_COMPONENTIZE_PY to a componentize-py {COMPONENTIZE_PY_VERSION} executable",
        python.display(),
        dir.display()
    );
    tracing::info!(
        "installing componentize-py {COMPONENTIZE_PY_VERSION} into {} (once)",
        dir.display()
    );
    let _step = tracing::info_span!("step", step = "installing componentize-py").entered();
    let staging = dir.with_extension(format!("partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let status = pip_install(python, &staging)
        .arg("--quiet")
        .arg(format!("componentize-py=={COMPONENTIZE_PY_VERSION}"))
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .map_err(|e| {
            BuildError::toolchain(format!("cannot run {}; {hint}", python.display())).with_source(e)
        })?;
    if !status.success() {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(BuildError::toolchain(format!(
            "pip could not install componentize-py ({status}); {hint}"
        )));
    }
    if let Some(parent) = dir.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    if std::fs::rename(&staging, dir).is_err() && !dir.join("componentize_py").is_dir() {
        return Err(BuildError::toolchain(format!(
            "cannot move componentize-py into {}; {hint}",
            dir.display()
        )));
    }
    let _ = std::fs::remove_dir_all(&staging);
    Ok(())
}

/// Keeps the end of a long tool log, where the error is.
pub(crate) fn trim_log(log: &str) -> &str {
    const KEEP: usize = 8_000;
    if log.len() <= KEEP {
        log
    } else {
        &log[log.floor_char_boundary(log.len() - KEEP)..]
    }
}
