//! Which Python files go into a component, and how the entry module is imported.
//!
//! A module on its own is imported by its stem, with the `.py` files and
//! the packages beside it. A module inside a package (a folder with `__init__.py`) is imported by
//! its dotted name, with the whole package from its top folder, so relative
//! imports and lazily imported submodules work at run time.

use std::path::{Path, PathBuf};

use super::{BuildError, Result};

/// Folders never bundled.
const SKIPPED_DIRS: &[&str] = &["__pycache__", ".git", ".venv", "venv", "node_modules"];

/// Packages beside a module that are not part of it: its tests.
const NOT_BESIDE: &[&str] = &["tests", "test"];

/// The most files one package may bundle, against a mistaken folder.
const MAX_FILES: usize = 5_000;

pub(crate) struct Layout {
    /// How the glue imports the entry module (`app`, or `shop.api`).
    pub(crate) import_name: String,
    /// Files by their path relative to the Python path root, with their bytes.
    pub(crate) files: Vec<(String, Vec<u8>)>,
    /// That root on disk.
    pub(crate) root: PathBuf,
}

impl Layout {
    pub(crate) fn of(path: &Path) -> Result<Layout> {
        let path = std::fs::canonicalize(path)
            .map_err(|e| BuildError::io(format!("cannot find {}", path.display()), e))?;
        let dir = path.parent().unwrap_or(Path::new("/")).to_owned();
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        if !dir.join("__init__.py").is_file() {
            // The modules beside it, and the packages beside it (folders
            // with `__init__.py`), which it may import as `import helpers`.
            let mut files = Vec::new();
            for entry in read_dir(&dir)? {
                let is_module = entry.extension().is_some_and(|ext| ext == "py") && entry.is_file();
                let name = file_name(&entry);
                let is_package = entry.join("__init__.py").is_file()
                    && !SKIPPED_DIRS.contains(&name.as_str())
                    && !NOT_BESIDE.contains(&name.as_str())
                    && !name.starts_with('.');
                if is_module {
                    files.push((name, read(&entry)?));
                } else if is_package {
                    collect(&entry, &dir, &mut files)?;
                }
            }
            files.sort();
            return Ok(Layout {
                import_name: stem,
                files,
                root: dir,
            });
        }
        // Walk up to the top of the package.
        let mut root = dir.clone();
        let mut parts = vec![];
        while root.join("__init__.py").is_file() {
            parts.push(file_name(&root));
            match root.parent() {
                Some(parent) => root = parent.to_owned(),
                None => break,
            }
        }
        parts.reverse();
        let top = root.join(&parts[0]);
        let mut relative_dir: Vec<String> = parts.clone();
        if stem != "__init__" {
            relative_dir.push(stem);
        }
        let import_name = relative_dir.join(".");
        let mut files = Vec::new();
        collect(&top, &root, &mut files)?;
        files.sort();
        Ok(Layout {
            import_name,
            files,
            root,
        })
    }
}

impl Layout {
    /// The dotted names of the packages' other modules, to bundle them all.
    /// The modules beside a module on its own are left to its imports: one
    /// of them may be a script (`setup.py`) that must not run at build time.
    pub(crate) fn other_modules(&self) -> Vec<String> {
        let alone = !self.import_name.contains('.');
        self.files
            .iter()
            .filter(|(name, _)| !alone || name.contains('/'))
            .filter_map(|(name, _)| name.strip_suffix(".py"))
            .map(|path| path.trim_end_matches("/__init__").replace('/', "."))
            .filter(|module| *module != self.import_name)
            .collect()
    }
}

impl Layout {
    /// The public modules in `package` and its subpackages, the package
    /// itself first, then the rest in name order: each as its dotted name
    /// and its file in the package folder, without `.py` (`/animals`,
    /// `/care/feeding`, `/__init__`). Modules whose name (or a folder's)
    /// starts with `_`, and `__main__`, are private.
    pub(crate) fn package_modules(&self, package: &str) -> Vec<(String, String)> {
        let folder = package.replace('.', "/");
        let mut modules: Vec<(String, String)> = self
            .files
            .iter()
            .filter_map(|(name, _)| name.strip_suffix(".py")?.strip_prefix(&folder))
            .filter(|inner| inner.starts_with('/'))
            .filter(|inner| {
                let dotted = inner.trim_end_matches("/__init__");
                dotted.split('/').skip(1).all(|part| !part.starts_with('_'))
            })
            .map(|inner| {
                let dotted = format!("{folder}{}", inner.trim_end_matches("/__init__"));
                (dotted.replace('/', "."), inner.to_owned())
            })
            .collect();
        modules.sort_by_key(|(module, _)| (module != package, module.clone()));
        modules
    }

    /// The bytes of the file at `inner` in the package folder, if bundled.
    pub(crate) fn file(&self, inner: &str) -> Option<&[u8]> {
        let folder = self.import_name.replace('.', "/");
        self.files
            .iter()
            .find(|(name, _)| name.strip_prefix(&folder) == Some(inner))
            .map(|(_, bytes)| bytes.as_slice())
    }
}

fn collect(dir: &Path, root: &Path, files: &mut Vec<(String, Vec<u8>)>) -> Result<()> {
    for entry in read_dir(dir)? {
        let name = file_name(&entry);
        if entry.is_dir() {
            if !SKIPPED_DIRS.contains(&name.as_str()) && !name.starts_with('.') {
                collect(&entry, root, files)?;
            }
            continue;
        }
        if !entry.is_file() || name.ends_with(".pyc") {
            continue;
        }
        if files.len() >= MAX_FILES {
            return Err(BuildError::input(format!(
                "the package under {} has more than {MAX_FILES} files; is the entry module in the right folder?",
                root.display()
            )));
        }
        // Sized before it is read: one huge file is refused unread.
        let size = entry
            .metadata()
            .map_err(|e| BuildError::io(format!("cannot read {}", entry.display()), e))?
            .len();
        let bytes: u64 = files.iter().map(|(_, b)| b.len() as u64).sum();
        if let Some(over) = crate::bundle::over_limits(files.len() + 1, bytes + size) {
            return Err(BuildError::input(format!(
                "the package under {} holds {over}, reached at {}",
                root.display(),
                entry.display()
            )));
        }
        let relative = entry
            .strip_prefix(root)
            .unwrap_or(&entry)
            .display()
            .to_string();
        files.push((relative, read(&entry)?));
    }
    Ok(())
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| BuildError::io(format!("cannot list {}", dir.display()), e))?;
    Ok(entries.flatten().map(|entry| entry.path()).collect())
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| BuildError::io(format!("cannot read {}", path.display()), e))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
