//! Host functions through typed bindings: the host implements the trait
//! generated from `directory.pyi`, with the stub's types as Rust types.

use std::sync::Mutex;
use std::time::Duration;

use snakebox::Calls as _;
use snakebox::{Caller, HostError};

include!(concat!(env!("OUT_DIR"), "/host_calls.rs"));

use directory::{Person, Role};

#[derive(Default)]
struct Directory {
    audits: Mutex<Vec<String>>,
}

impl directory::Directory for std::sync::Arc<Directory> {
    async fn find_person(&self, _caller: &Caller, id: i64) -> Result<Person, HostError> {
        match id {
            404 => Err(HostError::kind("NotFound", "no person 404")),
            _ => Ok(Person {
                id,
                name: format!("typed {id}"),
                role: Role::Guest,
                manager: Some(1),
            }),
        }
    }

    async fn save_person(
        &self,
        _caller: &Caller,
        person: Person,
    ) -> Result<Vec<Person>, HostError> {
        // What Python sent, as a Rust value.
        assert_eq!(person.role, Role::Admin);
        Ok(vec![person])
    }

    async fn audit(&self, caller: &Caller, event: String) -> Result<(), HostError> {
        let line = format!("{}: {event}", caller.function());
        self.audits.lock().expect("audits").push(line);
        Ok(())
    }

    async fn pause(&self, _caller: &Caller, ms: i64) -> Result<i64, HostError> {
        tokio::time::sleep(Duration::from_millis(ms.unsigned_abs())).await;
        Ok(ms)
    }

    async fn tenant(&self, caller: &Caller) -> Result<String, HostError> {
        Ok(caller
            .state::<&str>()
            .copied()
            .unwrap_or("nobody")
            .to_owned())
    }

    async fn never(&self, _caller: &Caller) -> Result<(), HostError> {
        std::future::pending().await
    }

    async fn never_sync(&self, _caller: &Caller) -> Result<(), HostError> {
        std::future::pending().await
    }

    async fn explode(&self, _caller: &Caller) -> Result<i64, HostError> {
        Err(HostError::new("no explosions here"))
    }
}

#[tokio::test]
async fn the_host_implements_the_stubs_trait() {
    let runtime = snakebox::Runtime::new().expect("a runtime");
    let host = std::sync::Arc::new(Directory::default());
    let calls = HostCalls::load_with_host(&runtime, snakebox::Policy::default(), host.clone())
        .expect("the bindings load with their host");
    assert_eq!(calls.greet(7).await.expect("greet"), "Hello, typed 7");
    assert_eq!(
        calls.promote(5).await.expect("promote"),
        ["typed 5:admin:1"]
    );
    assert_eq!(
        calls.lookup(404).await.expect("lookup"),
        "NotFound(no person 404) host=True"
    );
    assert_eq!(calls.panics().await.expect("panics"), "no explosions here");
    assert_eq!(*host.audits.lock().expect("audits"), ["greet: greeted 7"]);
    let session = calls.app().session().expect("a session").with_state("acme");
    assert_eq!(
        session.call_json("whose", &[], &[]).await.expect("whose"),
        "acme"
    );
}
