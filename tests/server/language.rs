//! The document language: `SetLanguage` is broadcast as `Language` to
//! everyone (sender included) with the setter's id and current name,
//! replayed to later joiners, refused with `invalid_language` for names
//! outside the documented list (the connection stays usable), and kept
//! across a restart (then without a setter).

mod common;

use common::{barrier, doc_id, hello_with, Client, Server};
use serde_json::{json, Value};

/// The languages listed in docs/protocol.md.
const LANGUAGES: [&str; 38] = [
    "plaintext",
    "bat",
    "c",
    "cpp",
    "csharp",
    "css",
    "dockerfile",
    "go",
    "graphql",
    "html",
    "ini",
    "java",
    "javascript",
    "json",
    "julia",
    "kotlin",
    "latex",
    "lua",
    "markdown",
    "mysql",
    "objective-c",
    "perl",
    "pgsql",
    "php",
    "powershell",
    "python",
    "r",
    "ruby",
    "rust",
    "scala",
    "scheme",
    "shell",
    "sql",
    "swift",
    "toml",
    "typescript",
    "xml",
    "yaml",
];

/// Joins with `info` (or none) and consumes the greeting.
async fn joined(server: &Server, id: &str, info: Value) -> Client {
    let mut c = server.connect(id, None).await.unwrap();
    hello_with(&mut c, None, info).await;
    barrier(&mut c).await;
    c
}

fn language(name: &str, user_id: Value, user_name: Value) -> Value {
    json!({"Language": {"language": name, "user_id": user_id, "user_name": user_name}})
}

/// `SetLanguage` reaches the sender and every other client as the same
/// `Language` message, naming the setter by id and by the name it gave in
/// `Hello.info`, later in `ClientInfo`, or `null` when it gave none.
#[tokio::test]
async fn set_language_is_broadcast_to_everyone_with_the_setter() {
    let server = Server::start(&[]).await;
    let id = doc_id("lang");
    let mut a = joined(&server, &id, json!({"name": "Ann", "hue": 120})).await;
    let mut b = joined(&server, &id, Value::Null).await;
    barrier(&mut a).await; // (b has no name: a is told nothing of it)

    a.send(json!({"SetLanguage": "rust"})).await;
    let expected = language("rust", json!(1), json!("Ann"));
    assert_eq!(a.recv().await, expected);
    assert_eq!(b.recv().await, expected);

    a.send(json!({"ClientInfo": {"name": "Annie", "hue": 3}}))
        .await;
    a.send(json!({"SetLanguage": "python"})).await;
    let expected = language("python", json!(1), json!("Annie"));
    assert_eq!(a.recv().await, expected);
    assert_eq!(
        b.recv_until(|v| v.get("Language").is_some()).await,
        expected
    );

    b.send(json!({"SetLanguage": "go"})).await;
    let expected = language("go", json!(2), Value::Null);
    assert_eq!(b.recv().await, expected);
    assert_eq!(a.recv().await, expected);
}

/// A later joiner gets the current language in its greeting, right after
/// the catch-up, with who set it.
#[tokio::test]
async fn the_language_is_replayed_to_later_joiners() {
    let server = Server::start(&[]).await;
    let id = doc_id("replay");
    let mut a = joined(&server, &id, json!({"name": "Ann", "hue": 120})).await;
    a.send(json!({"SetLanguage": "markdown"})).await;
    a.recv().await;
    a.send(json!({"SetLanguage": "toml"})).await;
    a.recv().await;

    let mut c = server.connect(&id, None).await.unwrap();
    let catch_up = c.hello(None).await;
    assert!(catch_up.get("Snapshot").is_some(), "{catch_up}");
    assert_eq!(c.recv().await, language("toml", json!(1), json!("Ann")));
    // Nothing else about the language follows.
    let rest = barrier(&mut c).await;
    assert!(
        !rest.iter().any(|m| m.get("Language").is_some()),
        "{rest:?}"
    );
}

/// Names outside the list (including other spellings of listed ones) get
/// `{"Error":{"code":"invalid_language",…}}` for the sender only; nothing
/// is broadcast, the language is unchanged, and the connection stays
/// usable.
#[tokio::test]
async fn an_unknown_language_is_refused_and_the_connection_continues() {
    let server = Server::start(&[]).await;
    let id = doc_id("unknown");
    let mut a = joined(&server, &id, Value::Null).await;
    let mut b = joined(&server, &id, Value::Null).await;
    barrier(&mut a).await;
    a.send(json!({"SetLanguage": "rust"})).await;
    a.recv().await;
    b.recv().await;

    for bad in ["Rust", "", " rust", "rust ", "c++", "brainfuck"] {
        a.send(json!({ "SetLanguage": bad })).await;
        let err = a.recv().await;
        assert_eq!(err["Error"]["code"], "invalid_language", "{bad:?}: {err}");
        assert!(err["Error"]["message"].is_string(), "{err}");
        assert_eq!(err.as_object().unwrap().len(), 1);
        assert_eq!(err["Error"].as_object().unwrap().len(), 2, "{err}");
    }
    assert_eq!(barrier(&mut b).await, Vec::<Value>::new());
    // Still usable: an edit and a valid language go through.
    a.edit(0, 1, json!(["x"])).await;
    assert_eq!(a.expect("History").await["operations"][0]["id"], 1);
    a.send(json!({"SetLanguage": "lua"})).await;
    assert_eq!(a.recv().await, language("lua", json!(1), Value::Null));
    assert_eq!(
        b.recv_until(|v| v.get("Language").is_some()).await,
        language("lua", json!(1), Value::Null)
    );
    let mut c = server.connect(&id, None).await.unwrap();
    c.hello(None).await;
    assert_eq!(c.recv().await, language("lua", json!(1), Value::Null));
    assert_eq!(
        server
            .metric("tandem_errors_total{code=\"invalid_language\"}")
            .await,
        6.0 + 4.0 // the bad names, plus the barriers
    );
}

/// Every language the protocol lists is accepted.
#[tokio::test]
async fn every_listed_language_is_accepted() {
    let server = Server::start(&[]).await;
    let id = doc_id("all");
    let mut a = joined(&server, &id, Value::Null).await;
    for name in LANGUAGES {
        a.send(json!({ "SetLanguage": name })).await;
        assert_eq!(a.recv().await, language(name, json!(1), Value::Null));
    }
}

/// The language survives a graceful restart; loaded from storage it has
/// no setter (`user_id` and `user_name` are `null`).
#[tokio::test]
async fn the_language_persists_across_a_restart() {
    let mut server = Server::start(&[]).await;
    let id = doc_id("persist");
    let mut a = joined(&server, &id, json!({"name": "Ann", "hue": 1})).await;
    a.edit(0, 1, json!(["fn main() {}"])).await;
    a.expect("History").await;
    a.send(json!({"SetLanguage": "rust"})).await;
    assert_eq!(a.recv().await, language("rust", json!(1), json!("Ann")));

    let status = server.terminate().await;
    assert!(status.success(), "{status:?}");
    server.restart().await;

    let mut c = server.connect(&id, None).await.unwrap();
    assert_eq!(
        common::sans_epoch(&c.hello(None).await),
        json!({"Snapshot": {"revision": 1, "text": "fn main() {}", "last_seq": 0}})
    );
    assert_eq!(c.recv().await, language("rust", Value::Null, Value::Null));
}
