//! Lets the bench binary find the libpython that PyO3 linked against, also
//! when that library lives outside the system's search path (pyenv, for one).

fn main() {
    let config = pyo3_build_config::get();
    if let Some(lib_dir) = config.lib_dir() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
    }
}
