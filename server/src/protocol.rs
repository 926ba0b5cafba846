//! The wire protocol: the only module that knows how messages are encoded
//! (JSON, Kolabpad-shaped; see docs/protocol.md, which this must match).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use tandem_ot::{Operation, UserId};

/// A message from a client, decoded.
///
/// Message bodies must be JSON objects: serde would also read a struct from
/// an array by position, which the protocol does not allow, hence
/// `deserialize_with = "object"` on every struct-bodied variant.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub enum ClientMsg {
    /// The first message of every connection.
    #[serde(deserialize_with = "object")]
    Hello(Hello),
    /// An edit.
    #[serde(deserialize_with = "object")]
    Edit(EditMsg),
    /// Change the document's language.
    SetLanguage(String),
    /// Change this user's name and colour (validated by the connection).
    #[serde(deserialize_with = "object")]
    ClientInfo(ClientInfo),
    /// This user's cursors and selections (validated by the document).
    #[serde(deserialize_with = "object")]
    CursorData(CursorMsg),
    /// Protect, rotate or unprotect.
    #[serde(rename = "SetOTP", deserialize_with = "object")]
    SetOtp(SetOtp),
    /// Make (or replace) the read-only link, or remove it.
    #[serde(deserialize_with = "object")]
    SetViewLink(SetViewLink),
}

/// `Hello`: who the client is and what it already has.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Hello {
    /// The client's secret identity, kept across reconnects.
    pub client: String,
    /// The revision the client already has, if any.
    #[serde(default)]
    pub revision: Option<u64>,
    /// The document epoch `revision` belongs to (from the client's last
    /// `Snapshot`); without it the revision is trusted to be current.
    #[serde(default)]
    pub epoch: Option<String>,
    /// Name and colour, so the user appears with them at once.
    #[serde(default, deserialize_with = "optional_object")]
    pub info: Option<ClientInfo>,
}

/// `Edit`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EditMsg {
    /// The revision `operation` applies to.
    pub revision: u64,
    /// The edit's sequence number for this client identity.
    pub seq: u64,
    /// The edit.
    pub operation: Operation,
}

/// `ClientInfo` as received: any integer hue, so that an out-of-range one
/// gets the `invalid_client_info` error rather than a decoding failure.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ClientInfo {
    /// Display name, before trimming and checks.
    pub name: String,
    /// Colour hue; valid values are 0–359. `i128` so that any JSON integer
    /// a 64-bit peer can write decodes, and gets the specific error.
    pub hue: i128,
}

/// A user's name and colour, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    /// Display name.
    pub name: String,
    /// Colour hue in degrees, 0–359.
    pub hue: u32,
}

/// Cursor positions as sent to other users.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct CursorData {
    /// Caret positions, in code points.
    pub cursors: Vec<usize>,
    /// Selections as `[start, end]`, in code points.
    pub selections: Vec<(usize, usize)>,
}

/// `CursorData` as a client sends it: any integers, so that positions
/// outside the document (negative ones included) get the `invalid_cursor`
/// error rather than a decoding failure.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CursorMsg {
    /// Caret positions (`i128`: see [`ClientInfo::hue`]).
    pub cursors: Vec<i128>,
    /// Selections as `[start, end]`.
    pub selections: Vec<(i128, i128)>,
    /// The revision the positions refer to (default: current).
    #[serde(default)]
    pub revision: Option<u64>,
}

/// `SetOTP`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SetOtp {
    /// Protect (or rotate) when true, unprotect when false.
    pub enabled: bool,
}

/// `SetViewLink`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SetViewLink {
    /// Make a new read-only link (replacing any) when true, remove it when
    /// false.
    pub enabled: bool,
}

/// Reads `T` only from a JSON object (see [`ClientMsg`]).
fn object<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct ObjectVisitor<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for ObjectVisitor<T> {
        type Value = T;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
    }
    deserializer.deserialize_map(ObjectVisitor(std::marker::PhantomData))
}

/// [`object`] for an optional field (`null` or absent is `None`).
fn optional_object<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Wrap<T>(T);
    impl<'de, T: Deserialize<'de>> Deserialize<'de> for Wrap<T> {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            object(d).map(Wrap)
        }
    }
    Ok(Option::<Wrap<T>>::deserialize(deserializer)?.map(|w| w.0))
}

/// Decodes one client message. The error text is what goes into the 4400
/// close reason.
pub fn decode(text: &str) -> Result<ClientMsg, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// Decodes a history entry as [`encode::entry`] wrote it (the journal
/// stores entries in their wire form).
pub fn decode_entry(text: &str) -> Result<(UserId, Operation), String> {
    #[derive(Deserialize)]
    struct Entry {
        id: UserId,
        operation: Operation,
    }
    let e: Entry = serde_json::from_str(text).map_err(|e| e.to_string())?;
    Ok((e.id, e.operation))
}

/// Error codes of the `Error` message (the connection continues).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `SetLanguage` with an unknown name.
    InvalidLanguage,
    /// `ClientInfo` with a bad name or hue.
    InvalidClientInfo,
    /// `CursorData` out of range or too long.
    InvalidCursor,
    /// An `Edit` whose `seq` was already applied.
    DuplicateEdit,
    /// A second `Hello`.
    UnexpectedHello,
    /// `SetOTP` could not be stored.
    PersistenceFailed,
    /// Messages arrive faster than `MAX_MESSAGES_PER_SECOND`.
    RateLimited,
    /// A viewer (read-only link) sent something only editors may send.
    ReadOnly,
    /// `SetViewLink` on a document that is not protected.
    NotProtected,
}

impl ErrorCode {
    /// Every code, for metrics.
    pub const ALL: [ErrorCode; 9] = [
        ErrorCode::InvalidLanguage,
        ErrorCode::InvalidClientInfo,
        ErrorCode::InvalidCursor,
        ErrorCode::DuplicateEdit,
        ErrorCode::UnexpectedHello,
        ErrorCode::PersistenceFailed,
        ErrorCode::RateLimited,
        ErrorCode::ReadOnly,
        ErrorCode::NotProtected,
    ];

    /// The code as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidLanguage => "invalid_language",
            ErrorCode::InvalidClientInfo => "invalid_client_info",
            ErrorCode::InvalidCursor => "invalid_cursor",
            ErrorCode::DuplicateEdit => "duplicate_edit",
            ErrorCode::UnexpectedHello => "unexpected_hello",
            ErrorCode::PersistenceFailed => "persistence_failed",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::ReadOnly => "read_only",
            ErrorCode::NotProtected => "not_protected",
        }
    }
}

/// Why a connection is closed, with its close code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Close {
    /// 1009: a frame above the limit.
    MessageTooLarge,
    /// 1011: a server bug.
    Internal(String),
    /// 1012: graceful shutdown.
    Restarting,
    /// 1013: a server limit; try again later.
    Busy(&'static str),
    /// 4000: the same client identity connected again.
    Replaced,
    /// 4400: not a valid message.
    Malformed(String),
    /// 4401: the OTP changed before the join completed.
    Unauthorized,
    /// 4403: the read-only link this viewer came in with was replaced or
    /// removed.
    ViewRevoked,
    /// 4408: no Hello in time, or silence.
    Timeout(&'static str),
    /// 4409: edit revision ahead of the server or older than its history.
    RevisionOutOfRange(String),
    /// 4413: the edit would make the document too large.
    DocumentTooLarge(String),
    /// 4422: the operation does not fit the document.
    DoesNotApply(String),
}

impl Close {
    /// The WebSocket close code.
    pub fn code(&self) -> u16 {
        match self {
            Close::MessageTooLarge => 1009,
            Close::Internal(_) => 1011,
            Close::Restarting => 1012,
            Close::Busy(_) => 1013,
            Close::Replaced => 4000,
            Close::Malformed(_) => 4400,
            Close::Unauthorized => 4401,
            Close::ViewRevoked => 4403,
            Close::Timeout(_) => 4408,
            Close::RevisionOutOfRange(_) => 4409,
            Close::DocumentTooLarge(_) => 4413,
            Close::DoesNotApply(_) => 4422,
        }
    }

    /// A short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Close::MessageTooLarge => "message_too_large",
            Close::Internal(_) => "internal",
            Close::Restarting => "restarting",
            Close::Busy(_) => "busy",
            Close::Replaced => "replaced",
            Close::Malformed(_) => "malformed",
            Close::Unauthorized => "unauthorized",
            Close::ViewRevoked => "view_revoked",
            Close::Timeout(_) => "timeout",
            Close::RevisionOutOfRange(_) => "revision_out_of_range",
            Close::DocumentTooLarge(_) => "document_too_large",
            Close::DoesNotApply(_) => "does_not_apply",
        }
    }

    /// The human-readable reason, cut to the 123 bytes a close frame can
    /// carry (at a character boundary).
    pub fn reason(&self) -> String {
        let full = match self {
            Close::MessageTooLarge => "message too large".to_owned(),
            Close::Internal(why) => format!("internal error: {why}"),
            Close::Restarting => "server restarting".to_owned(),
            Close::Busy(why) => format!("server busy: {why}"),
            Close::Replaced => "replaced by a newer connection of the same client".to_owned(),
            Close::Malformed(why) => format!("malformed message: {why}"),
            Close::Unauthorized => "unauthorized".to_owned(),
            Close::ViewRevoked => {
                "read-only link revoked: ask an editor of the document for the new link".to_owned()
            }
            Close::Timeout(what) => format!("timeout: {what}"),
            Close::RevisionOutOfRange(why) => format!("revision out of range: {why}"),
            Close::DocumentTooLarge(why) => format!("document too large: {why}"),
            Close::DoesNotApply(why) => format!("operation does not apply: {why}"),
        };
        truncate(full, 123)
    }
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// Encoders for server messages. History entries are encoded once, when
/// they are appended, and the bytes are shared by every connection.
pub mod encode {
    use super::*;

    fn json<T: Serialize + ?Sized>(v: &T) -> String {
        // Serializing these plain types cannot fail.
        serde_json::to_string(v).unwrap_or_default()
    }

    /// `{"Identity":U}`.
    pub fn identity(user: UserId) -> String {
        format!(r#"{{"Identity":{user}}}"#)
    }

    /// One history entry, `{"id":U,"operation":[…]}`.
    pub fn entry(author: UserId, op: &Operation) -> String {
        format!(r#"{{"id":{author},"operation":{}}}"#, json(op))
    }

    /// `{"History":{"start":R,"operations":[…]}}` from encoded entries.
    pub fn history<'a>(start: u64, entries: impl Iterator<Item = &'a str>) -> String {
        let mut out = format!(r#"{{"History":{{"start":{start},"operations":["#);
        for (i, e) in entries.enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(e);
        }
        out.push_str("]}}");
        out
    }

    /// `{"Snapshot":{"revision":N,"last_seq":K,"epoch":"…","text":"…"}}`.
    pub fn snapshot(revision: u64, text: &str, last_seq: u64, epoch: &str) -> String {
        let mut out = String::with_capacity(text.len() + 96);
        let _ = write!(
            out,
            r#"{{"Snapshot":{{"revision":{revision},"last_seq":{last_seq},"epoch":{},"text":{}}}}}"#,
            json(epoch),
            json(text)
        );
        out
    }

    /// `{"Language":{"language":…,"user_id":…,"user_name":…}}`.
    pub fn language(language: &str, user_id: Option<UserId>, user_name: Option<&str>) -> String {
        #[derive(Serialize)]
        struct Language<'a> {
            language: &'a str,
            user_id: Option<UserId>,
            user_name: Option<&'a str>,
        }
        #[derive(Serialize)]
        enum Msg<'a> {
            Language(Language<'a>),
        }
        json(&Msg::Language(Language {
            language,
            user_id,
            user_name,
        }))
    }

    /// `{"UserInfo":{"id":U,"info":{…}|null}}`.
    pub fn user_info(id: UserId, info: Option<&UserInfo>) -> String {
        #[derive(Serialize)]
        struct Body<'a> {
            id: UserId,
            info: Option<&'a UserInfo>,
        }
        #[derive(Serialize)]
        enum Msg<'a> {
            UserInfo(Body<'a>),
        }
        json(&Msg::UserInfo(Body { id, info }))
    }

    /// `{"UserCursor":{"id":U,"data":{…}}}`.
    pub fn user_cursor(id: UserId, data: &CursorData) -> String {
        #[derive(Serialize)]
        struct Body<'a> {
            id: UserId,
            data: &'a CursorData,
        }
        #[derive(Serialize)]
        enum Msg<'a> {
            UserCursor(Body<'a>),
        }
        json(&Msg::UserCursor(Body { id, data }))
    }

    /// `{"OTP":{"otp":…,"user_id":…,"user_name":…}}`.
    pub fn otp(otp: Option<&str>, user_id: Option<UserId>, user_name: Option<&str>) -> String {
        #[derive(Serialize)]
        struct Body<'a> {
            otp: Option<&'a str>,
            user_id: Option<UserId>,
            user_name: Option<&'a str>,
        }
        #[derive(Serialize)]
        enum Msg<'a> {
            #[serde(rename = "OTP")]
            Otp(Body<'a>),
        }
        json(&Msg::Otp(Body {
            otp,
            user_id,
            user_name,
        }))
    }

    /// `{"ViewLink":{"secret":…,"user_id":…,"user_name":…}}` (editors only).
    pub fn view_link(
        secret: Option<&str>,
        user_id: Option<UserId>,
        user_name: Option<&str>,
    ) -> String {
        #[derive(Serialize)]
        struct Body<'a> {
            secret: Option<&'a str>,
            user_id: Option<UserId>,
            user_name: Option<&'a str>,
        }
        #[derive(Serialize)]
        enum Msg<'a> {
            ViewLink(Body<'a>),
        }
        json(&Msg::ViewLink(Body {
            secret,
            user_id,
            user_name,
        }))
    }

    /// `{"ReadOnly":{}}`: the end of a viewer's greeting.
    pub fn read_only() -> String {
        r#"{"ReadOnly":{}}"#.to_owned()
    }

    /// `{"Error":{"code":…,"message":…}}`.
    pub fn error(code: ErrorCode, message: &str) -> String {
        #[derive(Serialize)]
        struct Body<'a> {
            code: &'a str,
            message: &'a str,
        }
        #[derive(Serialize)]
        enum Msg<'a> {
            Error(Body<'a>),
        }
        json(&Msg::Error(Body {
            code: code.as_str(),
            message,
        }))
    }
}

/// The client half of the protocol, for Rust clients of the server (the
/// load generator, chaos tools and tests): encoders of client messages and
/// a decoder of server messages, kept here so that the encoding stays in
/// one module.
pub mod client {
    use super::*;

    /// A message from the server, decoded.
    #[derive(Debug, Clone, PartialEq, Deserialize)]
    pub enum ServerMsg {
        /// The client's user id.
        Identity(UserId),
        /// History entries from `start` on.
        History(HistoryMsg),
        /// The whole document.
        Snapshot(SnapshotMsg),
        /// The language and who set it.
        Language(LanguageMsg),
        /// A user's name and colour, or `None` when they left.
        UserInfo(UserInfoMsg),
        /// A user's cursors.
        UserCursor(UserCursorMsg),
        /// Protection state.
        #[serde(rename = "OTP")]
        Otp(OtpMsg),
        /// The read-only link (editors only).
        ViewLink(ViewLinkMsg),
        /// This connection is read-only (the end of a viewer's greeting).
        ReadOnly(ReadOnlyMsg),
        /// A refused request.
        Error(ErrorMsg),
    }

    /// `ViewLink`.
    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    pub struct ViewLinkMsg {
        /// The view secret, `None` when there is no read-only link.
        pub secret: Option<String>,
        /// Who changed it.
        pub user_id: Option<UserId>,
        /// Their name.
        pub user_name: Option<String>,
    }

    /// `ReadOnly` (an empty object).
    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    pub struct ReadOnlyMsg {}

    /// `History`.
    #[derive(Debug, Clone, PartialEq, Deserialize)]
    pub struct HistoryMsg {
        /// Revision of the first entry.
        pub start: u64,
        /// The entries.
        pub operations: Vec<EntryMsg>,
    }

    /// One history entry.
    #[derive(Debug, Clone, PartialEq, Deserialize)]
    pub struct EntryMsg {
        /// Its author.
        pub id: UserId,
        /// The edit.
        pub operation: Operation,
    }

    /// `Snapshot`.
    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    pub struct SnapshotMsg {
        /// The revision of `text`.
        pub revision: u64,
        /// The document.
        pub text: String,
        /// The last applied edit of this client identity.
        pub last_seq: u64,
        /// The document's epoch, to send back in the next `Hello` (empty
        /// from servers that do not send it).
        #[serde(default)]
        pub epoch: String,
    }

    /// `Language`.
    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    pub struct LanguageMsg {
        /// The language name.
        pub language: String,
        /// Who set it.
        pub user_id: Option<UserId>,
        /// Their name.
        pub user_name: Option<String>,
    }

    /// `UserInfo`.
    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    pub struct UserInfoMsg {
        /// The user.
        pub id: UserId,
        /// Name and colour; `None` when the user left.
        pub info: Option<InfoMsg>,
    }

    /// A name and colour.
    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    pub struct InfoMsg {
        /// Name.
        pub name: String,
        /// Hue.
        pub hue: u32,
    }

    /// `UserCursor`.
    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    pub struct UserCursorMsg {
        /// The user.
        pub id: UserId,
        /// Their cursors.
        pub data: CursorsMsg,
    }

    /// Cursor positions.
    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    pub struct CursorsMsg {
        /// Carets.
        pub cursors: Vec<usize>,
        /// Selections.
        pub selections: Vec<(usize, usize)>,
    }

    /// `OTP`.
    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    pub struct OtpMsg {
        /// The OTP, `None` when unprotected.
        pub otp: Option<String>,
        /// Who changed it.
        pub user_id: Option<UserId>,
        /// Their name.
        pub user_name: Option<String>,
    }

    /// `Error`.
    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    pub struct ErrorMsg {
        /// The error code.
        pub code: String,
        /// What went wrong.
        pub message: String,
    }

    /// Decodes a server message.
    pub fn decode(text: &str) -> Result<ServerMsg, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    #[derive(Serialize)]
    struct InfoBody<'a> {
        name: &'a str,
        hue: u32,
    }

    /// `Hello`.
    pub fn hello(
        client: &str,
        revision: Option<u64>,
        epoch: Option<&str>,
        info: Option<(&str, u32)>,
    ) -> String {
        #[derive(Serialize)]
        struct Body<'a> {
            client: &'a str,
            revision: Option<u64>,
            #[serde(skip_serializing_if = "Option::is_none")]
            epoch: Option<&'a str>,
            info: Option<InfoBody<'a>>,
        }
        #[derive(Serialize)]
        enum Msg<'a> {
            Hello(Body<'a>),
        }
        let info = info.map(|(name, hue)| InfoBody { name, hue });
        serde_json::to_string(&Msg::Hello(Body {
            client,
            revision,
            epoch,
            info,
        }))
        .unwrap_or_default()
    }

    /// `Edit`.
    pub fn edit(revision: u64, seq: u64, operation: &Operation) -> String {
        format!(
            r#"{{"Edit":{{"revision":{revision},"seq":{seq},"operation":{}}}}}"#,
            serde_json::to_string(operation).unwrap_or_default()
        )
    }

    /// `CursorData`.
    pub fn cursor(
        cursors: &[usize],
        selections: &[(usize, usize)],
        revision: Option<u64>,
    ) -> String {
        #[derive(Serialize)]
        struct Body<'a> {
            cursors: &'a [usize],
            selections: &'a [(usize, usize)],
            revision: Option<u64>,
        }
        #[derive(Serialize)]
        enum Msg<'a> {
            CursorData(Body<'a>),
        }
        serde_json::to_string(&Msg::CursorData(Body {
            cursors,
            selections,
            revision,
        }))
        .unwrap_or_default()
    }

    /// `ClientInfo`.
    pub fn client_info(name: &str, hue: u32) -> String {
        #[derive(Serialize)]
        enum Msg<'a> {
            ClientInfo(InfoBody<'a>),
        }
        serde_json::to_string(&Msg::ClientInfo(InfoBody { name, hue })).unwrap_or_default()
    }

    /// `SetLanguage`.
    pub fn set_language(name: &str) -> String {
        #[derive(Serialize)]
        enum Msg<'a> {
            SetLanguage(&'a str),
        }
        serde_json::to_string(&Msg::SetLanguage(name)).unwrap_or_default()
    }

    /// `SetOTP`.
    pub fn set_otp(enabled: bool) -> String {
        format!(r#"{{"SetOTP":{{"enabled":{enabled}}}}}"#)
    }

    /// `SetViewLink`.
    pub fn set_view_link(enabled: bool) -> String {
        format!(r#"{{"SetViewLink":{{"enabled":{enabled}}}}}"#)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_kolabpad_shapes() {
        let m = decode(r#"{"Edit":{"revision":3,"seq":1,"operation":[10,"hi",-2]}}"#).unwrap();
        let ClientMsg::Edit(e) = m else { panic!() };
        assert_eq!((e.revision, e.seq, e.operation.base_len()), (3, 1, 12));
        assert_eq!(
            decode(r#"{"SetLanguage":"rust"}"#).unwrap(),
            ClientMsg::SetLanguage("rust".into())
        );
        assert_eq!(
            decode(r#"{"ClientInfo":{"name":"Ann","hue":120}}"#).unwrap(),
            ClientMsg::ClientInfo(ClientInfo {
                name: "Ann".into(),
                hue: 120
            })
        );
        let ClientMsg::CursorData(c) =
            decode(r#"{"CursorData":{"cursors":[4],"selections":[[1,3]]}}"#).unwrap()
        else {
            panic!()
        };
        assert_eq!(c.selections, vec![(1, 3)]);
        assert_eq!(c.revision, None);
        assert!(matches!(
            decode(r#"{"SetOTP":{"enabled":true}}"#),
            Ok(ClientMsg::SetOtp(SetOtp { enabled: true }))
        ));
        assert!(matches!(
            decode(r#"{"Hello":{"client":"abc"}}"#),
            Ok(ClientMsg::Hello(Hello { revision: None, .. }))
        ));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "nope",
            "{}",
            r#"{"Bogus":1}"#,
            r#"{"Edit":{"revision":-1,"seq":1,"operation":[]}}"#,
            r#"{"Edit":{"revision":1.5,"seq":1,"operation":[]}}"#,
            r#"{"Edit":{"revision":1,"operation":[]}}"#,
            r#"{"Edit":{"revision":1,"seq":1,"operation":[0]}}"#,
            r#"{"Edit":{"revision":1,"seq":1,"operation":"x"}}"#,
            r#"{"Edit":{"revision":18446744073709551616,"seq":1,"operation":[]}}"#,
            r#"{"Edit":[1,1,[5,"!"]]}"#,
            r#"{"ClientInfo":["Ann",120]}"#,
            r#"{"SetOTP":[false]}"#,
            r#"{"Hello":["0123456789abcdef"]}"#,
            r#"{"Hello":{"client":"0123456789abcdef","info":["Ann",1]}}"#,
            r#"{"CursorData":[[1],[]]}"#,
            r#"{"ClientInfo":{"name":"a","hue":1.5}}"#,
        ] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn out_of_range_values_decode_for_a_specific_error() {
        assert!(matches!(
            decode(r#"{"ClientInfo":{"name":"a","hue":-1}}"#),
            Ok(ClientMsg::ClientInfo(ClientInfo { hue: -1, .. }))
        ));
        assert!(matches!(
            decode(r#"{"CursorData":{"cursors":[-1],"selections":[[-2,3]]}}"#),
            Ok(ClientMsg::CursorData(_))
        ));
        assert!(matches!(
            decode(r#"{"ClientInfo":{"name":"a","hue":18446744073709551615}}"#),
            Ok(ClientMsg::ClientInfo(ClientInfo {
                hue: 18446744073709551615,
                ..
            }))
        ));
        assert!(matches!(
            decode(r#"{"Hello":{"client":"0123456789abcdef","info":null}}"#),
            Ok(ClientMsg::Hello(Hello { info: None, .. }))
        ));
    }

    #[test]
    fn encodes() {
        let op: Operation = serde_json::from_str(r#"[1,"é"]"#).unwrap();
        let e = encode::entry(7, &op);
        assert_eq!(e, r#"{"id":7,"operation":[1,"é"]}"#);
        assert_eq!(
            encode::history(3, [e.as_str(), e.as_str()].into_iter()),
            r#"{"History":{"start":3,"operations":[{"id":7,"operation":[1,"é"]},{"id":7,"operation":[1,"é"]}]}}"#
        );
        assert_eq!(
            encode::snapshot(2, "a\"b", 0, "e1"),
            r#"{"Snapshot":{"revision":2,"last_seq":0,"epoch":"e1","text":"a\"b"}}"#
        );
        assert_eq!(
            encode::user_info(1, None),
            r#"{"UserInfo":{"id":1,"info":null}}"#
        );
        let v: serde_json::Value =
            serde_json::from_str(&encode::error(ErrorCode::InvalidLanguage, "x")).unwrap();
        assert_eq!(v["Error"]["code"], "invalid_language");
    }

    #[test]
    fn client_half_round_trips_through_the_server_half() {
        use super::client as c;
        let op: Operation = serde_json::from_str(r#"[1,"é",-1]"#).unwrap();
        let ClientMsg::Edit(e) = decode(&c::edit(4, 2, &op)).unwrap() else {
            panic!()
        };
        assert_eq!((e.revision, e.seq, e.operation), (4, 2, op.clone()));
        let ClientMsg::Hello(h) = decode(&c::hello(
            "0123456789abcdef",
            Some(3),
            Some("e"),
            Some(("Ann", 7)),
        ))
        .unwrap() else {
            panic!()
        };
        assert_eq!((h.revision, h.info.unwrap().hue), (Some(3), 7));
        assert!(matches!(
            decode(&c::cursor(&[1], &[(0, 2)], Some(1))).unwrap(),
            ClientMsg::CursorData(_)
        ));
        assert!(matches!(
            decode(&c::client_info("A", 1)).unwrap(),
            ClientMsg::ClientInfo(_)
        ));
        assert!(matches!(
            decode(&c::set_language("rust")).unwrap(),
            ClientMsg::SetLanguage(_)
        ));
        assert!(matches!(
            decode(&c::set_otp(false)).unwrap(),
            ClientMsg::SetOtp(SetOtp { enabled: false })
        ));
        assert!(matches!(
            decode(&c::set_view_link(true)).unwrap(),
            ClientMsg::SetViewLink(SetViewLink { enabled: true })
        ));
        assert!(decode(r#"{"SetViewLink":[true]}"#).is_err());

        let entry = encode::entry(3, &op);
        let h = c::decode(&encode::history(7, [entry.as_str()].into_iter())).unwrap();
        let c::ServerMsg::History(h) = h else {
            panic!()
        };
        assert_eq!((h.start, h.operations[0].id), (7, 3));
        assert!(matches!(
            c::decode(&encode::identity(5)).unwrap(),
            c::ServerMsg::Identity(5)
        ));
        assert!(matches!(
            c::decode(&encode::snapshot(1, "x", 0, "e")).unwrap(),
            c::ServerMsg::Snapshot(_)
        ));
        assert!(matches!(
            c::decode(&encode::language("go", None, None)).unwrap(),
            c::ServerMsg::Language(_)
        ));
        assert!(matches!(
            c::decode(&encode::user_info(1, None)).unwrap(),
            c::ServerMsg::UserInfo(_)
        ));
        assert!(matches!(
            c::decode(&encode::user_cursor(1, &CursorData::default())).unwrap(),
            c::ServerMsg::UserCursor(_)
        ));
        assert!(matches!(
            c::decode(&encode::otp(None, None, None)).unwrap(),
            c::ServerMsg::Otp(_)
        ));
        assert!(matches!(
            c::decode(&encode::error(ErrorCode::DuplicateEdit, "x")).unwrap(),
            c::ServerMsg::Error(_)
        ));
        assert_eq!(
            c::decode(&encode::view_link(Some("s"), Some(2), None)).unwrap(),
            c::ServerMsg::ViewLink(c::ViewLinkMsg {
                secret: Some("s".into()),
                user_id: Some(2),
                user_name: None
            })
        );
        assert!(matches!(
            c::decode(&encode::read_only()).unwrap(),
            c::ServerMsg::ReadOnly(_)
        ));
    }

    #[test]
    fn close_reasons_fit_a_frame() {
        let long = Close::Malformed("é".repeat(200));
        assert!(long.reason().len() <= 123);
        assert_eq!(long.code(), 4400);
    }
}
