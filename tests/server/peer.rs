//! The native client (`tandem_server::peer`) against the real binary:
//! concurrent editing, offline edits resent after reconnecting, and
//! convergence with the server's text.

mod common;

use std::time::Duration;

use common::{doc_id, Server};
use tandem_server::peer::Peer;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn peers_converge_across_disconnects() {
    let server = Server::start(&[]).await;
    let id = doc_id("peer");
    let base = format!("ws://{}", server.addr);
    let mut a = Peer::new(&base, &id, None).with_info("Ann", 10);
    let mut b = Peer::new(&base, &id, None);
    a.connect(WAIT).await.unwrap();
    b.connect(WAIT).await.unwrap();
    a.splice(0, 0, "hello").await.unwrap();
    b.splice(0, 0, "world").await.unwrap();
    a.sync(WAIT).await.unwrap();
    b.sync(WAIT).await.unwrap();

    // b goes offline and keeps typing; a keeps typing too.
    b.disconnect();
    for i in 0..5 {
        b.splice(i, 0, "😀").await.unwrap();
        a.splice(0, 1, "é").await.unwrap();
    }
    a.sync(WAIT).await.unwrap();
    b.connect(WAIT).await.unwrap();
    b.sync(WAIT).await.unwrap();
    a.catch_up(b.revision(), WAIT).await.unwrap();
    b.catch_up(a.revision(), WAIT).await.unwrap();
    assert_eq!(a.text(), b.text());
    assert_eq!(server.text(&id).await, a.text());
    assert_eq!(a.text().matches('😀').count(), 5);
}
