//! Who may do what with a document: the secrets that open it — the OTP
//! for editors, the view secret of its read-only link for viewers — how
//! they are checked, and how they change (docs/protocol.md, docs/security.md).
//!
//! A [`Protection`] is the in-memory form of what `store` keeps: hashes,
//! and the view secret sealed under the OTP. It also holds, while the
//! document is in memory, the plain OTP and view secret once known (they
//! are sent to editors), learnt from an editor who presented the OTP.
//! Changes are *planned* ([`Protection::plan_otp`],
//! [`Protection::plan_view`]), persisted by the registry, then *applied*,
//! so a change never takes effect before it is stored.

use crate::otp::{self, Hash, SealError, Sealed};
use crate::store::StoredView;

/// What a connection or request presented to be let in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// An editor, with the OTP it presented (`?otp=`), if any.
    Edit(Option<String>),
    /// A viewer, with the view secret it presented (`?view=`).
    View(String),
}

impl Access {
    /// From the query parameters: `view` (even empty) asks for read-only
    /// access and then `otp` is ignored.
    pub fn new(otp: Option<&str>, view: Option<&str>) -> Access {
        match view {
            Some(v) => Access::View(v.to_owned()),
            None => Access::Edit(otp.map(str::to_owned)),
        }
    }

    /// The role this access gives once admitted.
    pub fn role(&self) -> Role {
        match self {
            Access::Edit(_) => Role::Editor,
            Access::View(_) => Role::Viewer,
        }
    }

    /// The OTP presented, if this is an editor's access.
    pub fn otp(&self) -> Option<&str> {
        match self {
            Access::Edit(otp) => otp.as_deref(),
            Access::View(_) => None,
        }
    }
}

/// What a connection may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything: edit, change the language, protection and read-only link.
    Editor,
    /// Read and be present (name, colour, cursor); nothing that changes the
    /// document or its secrets. Never told the OTP.
    Viewer,
}

/// A connection let in: its role and, for a viewer of a protected
/// document, the view-secret generation it was admitted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    /// What it may do.
    pub role: Role,
    /// For a viewer that presented the view secret: the generation of that
    /// secret; it is disconnected when the generation moves on.
    pub view_generation: Option<u64>,
}

/// Why a protection change cannot be made.
#[derive(Debug)]
pub enum ChangeError {
    /// A read-only link was asked for on an unprotected document.
    NotProtected,
    /// The plain OTP, needed to seal a new view secret, is not known in
    /// memory. Cannot happen for a connected editor (each presented the OTP
    /// or saw it set); reported rather than assumed.
    OtpUnknown,
    /// No randomness, or a secret of the wrong shape.
    Seal(SealError),
}

impl std::fmt::Display for ChangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChangeError::NotProtected => f.write_str(
                "the document is not protected: protect it before making a read-only link",
            ),
            ChangeError::OtpUnknown => {
                f.write_str("the OTP is not known here; reconnect and retry")
            }
            ChangeError::Seal(e) => write!(f, "could not seal the view secret: {e}"),
        }
    }
}

/// A document's read-only link in memory.
#[derive(Debug, Clone)]
struct ViewLink {
    /// Its hash and sealed form, as stored.
    stored: StoredView,
    /// The secret itself, once made here or unsealed with the OTP.
    secret: Option<String>,
}

/// A document's protection in memory (see the module docs).
#[derive(Debug, Default)]
pub struct Protection {
    /// Hash of the OTP, when protected.
    otp_hash: Option<Hash>,
    /// The OTP, once known (set here, or presented by an editor).
    otp: Option<String>,
    /// The read-only link; only a protected document has one.
    view: Option<ViewLink>,
    /// Bumped whenever the view secret is replaced or removed: a viewer
    /// admitted under another generation is disconnected.
    view_generation: u64,
}

/// A planned protection change: what is stored after it, and what it does
/// to the secrets in memory.
#[derive(Debug, Clone)]
pub struct Change {
    /// The OTP's hash after the change.
    otp_hash: Option<Hash>,
    /// The read-only link after the change, as stored.
    view: Option<StoredView>,
    /// The new OTP, when the change sets one (`Some(None)`: unprotected).
    new_otp: Option<Option<String>>,
    /// The view secret after the change, when the change replaces or
    /// removes the read-only link (`Some(None)`: removed).
    new_view: Option<Option<String>>,
    /// The view secret after the change when it is kept as it is.
    kept_view_secret: Option<String>,
}

impl Change {
    /// The OTP hash and read-only link to store.
    pub fn stored(&self) -> (Option<Hash>, Option<StoredView>) {
        (self.otp_hash, self.view)
    }

    /// The new OTP, if this change sets the protection (`Some(None)`:
    /// removed).
    pub fn new_otp(&self) -> Option<Option<&str>> {
        self.new_otp.as_ref().map(Option::as_deref)
    }

    /// The new view secret, if this change replaces or removes the
    /// read-only link (`Some(None)`: removed).
    pub fn new_view(&self) -> Option<Option<&str>> {
        self.new_view.as_ref().map(Option::as_deref)
    }
}

impl Protection {
    /// As loaded from storage: nothing is known in plain text yet.
    pub fn from_stored(otp_hash: Option<Hash>, view: Option<StoredView>) -> Protection {
        Protection {
            otp_hash,
            otp: None,
            // A link without protection cannot be used; never loaded.
            view: view.filter(|_| otp_hash.is_some()).map(|stored| ViewLink {
                stored,
                secret: None,
            }),
            view_generation: 0,
        }
    }

    /// Whether the document needs an OTP (or a view secret) to open.
    pub fn is_protected(&self) -> bool {
        self.otp_hash.is_some()
    }

    /// Whether it has a read-only link.
    pub fn has_view_link(&self) -> bool {
        self.view.is_some()
    }

    /// The OTP hash and read-only link, as stored.
    pub fn stored(&self) -> (Option<Hash>, Option<StoredView>) {
        (self.otp_hash, self.view.as_ref().map(|v| v.stored))
    }

    /// The current view-secret generation.
    pub fn view_generation(&self) -> u64 {
        self.view_generation
    }

    /// Whether `access` opens the document: an unprotected one is open to
    /// anyone (a viewer there is a viewer by choice); a protected one needs
    /// its OTP for editing, its view secret for viewing.
    pub fn admits(&self, access: &Access) -> bool {
        let Some(otp_hash) = &self.otp_hash else {
            return true;
        };
        match access {
            Access::Edit(otp) => otp::verify(otp_hash, otp.as_deref()),
            Access::View(secret) => self
                .view
                .as_ref()
                .is_some_and(|v| otp::verify(&v.stored.hash, Some(secret))),
        }
    }

    /// Admits `access` for a join. For an editor of a protected document
    /// the OTP it presented is remembered (and opens the view secret). For
    /// a viewer that presented a view secret, returns the generation it
    /// holds, so that it can be disconnected when the secret changes.
    pub fn admit(&mut self, access: &Access) -> Option<Admission> {
        if !self.admits(access) {
            return None;
        }
        let view_generation = match access {
            Access::Edit(otp) => {
                self.learn_otp(otp.as_deref());
                None
            }
            Access::View(_) => self.is_protected().then_some(self.view_generation),
        };
        Some(Admission {
            role: access.role(),
            view_generation,
        })
    }

    /// Remembers `presented` as the plain OTP if it is the OTP, and opens
    /// the view secret with it.
    fn learn_otp(&mut self, presented: Option<&str>) {
        let (Some(hash), Some(p)) = (&self.otp_hash, presented) else {
            return;
        };
        if self.otp.is_none() && otp::verify(hash, Some(p)) {
            self.otp = Some(p.to_owned());
        }
        if let (Some(view), Some(key)) = (&mut self.view, &self.otp) {
            if view.secret.is_none() {
                view.secret = open(&view.stored, key);
            }
        }
    }

    /// The view secret in plain text, if there is a link and it is known.
    pub fn view_secret(&self) -> Option<&str> {
        self.view.as_ref()?.secret.as_deref()
    }

    /// Plans setting the OTP to `new` (`None`: unprotect), `presented`
    /// being the OTP the requester showed (to open the view secret if it
    /// is not known yet). Rotating keeps the read-only link, sealed under
    /// the new OTP; unprotecting removes it (as does rotating when the
    /// secret cannot be opened, which a damaged database alone can cause).
    pub fn plan_otp(
        &mut self,
        new: Option<String>,
        presented: Option<&str>,
    ) -> Result<Change, ChangeError> {
        self.learn_otp(presented);
        let (view, new_view, kept_view_secret) = match (&new, &self.view) {
            (_, None) => (None, None, None),
            (Some(key), Some(link)) => match &link.secret {
                Some(secret) => {
                    let sealed = otp::seal(secret, key).map_err(ChangeError::Seal)?;
                    let stored = StoredView {
                        hash: link.stored.hash,
                        sealed,
                    };
                    (Some(stored), None, Some(secret.clone()))
                }
                None => {
                    tracing::warn!(
                        "the read-only link could not be opened; rotating the OTP removes it"
                    );
                    (None, Some(None), None)
                }
            },
            (None, Some(_)) => (None, Some(None), None),
        };
        Ok(Change {
            otp_hash: new.as_deref().map(otp::hash),
            view,
            new_otp: Some(new),
            new_view,
            kept_view_secret,
        })
    }

    /// Plans making a new read-only link (replacing any) or, with
    /// `enabled` false, removing it.
    pub fn plan_view(&mut self, enabled: bool) -> Result<Change, ChangeError> {
        if !enabled {
            return Ok(Change {
                otp_hash: self.otp_hash,
                view: None,
                new_otp: None,
                new_view: self.view.is_some().then_some(None),
                kept_view_secret: None,
            });
        }
        if !self.is_protected() {
            return Err(ChangeError::NotProtected);
        }
        let key = self.otp.as_deref().ok_or(ChangeError::OtpUnknown)?;
        let secret = otp::generate().map_err(|e| ChangeError::Seal(SealError::Random(e)))?;
        let sealed: Sealed = otp::seal(&secret, key).map_err(ChangeError::Seal)?;
        Ok(Change {
            otp_hash: self.otp_hash,
            view: Some(StoredView {
                hash: otp::hash(&secret),
                sealed,
            }),
            new_otp: None,
            new_view: Some(Some(secret)),
            kept_view_secret: None,
        })
    }

    /// Applies a planned change (after it was persisted).
    pub fn apply(&mut self, change: &Change) {
        self.otp_hash = change.otp_hash;
        if let Some(otp) = &change.new_otp {
            self.otp = otp.clone();
        }
        let secret = match &change.new_view {
            Some(new) => {
                self.view_generation += 1;
                new.clone()
            }
            None => change.kept_view_secret.clone(),
        };
        self.view = change.view.map(|stored| ViewLink { stored, secret });
    }
}

/// Opens a sealed view secret with the OTP.
fn open(stored: &StoredView, key: &str) -> Option<String> {
    let secret = otp::unseal(&stored.sealed, key, &stored.hash);
    if secret.is_none() {
        tracing::error!("a stored read-only link does not open with the document's OTP");
    }
    secret
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protected() -> (Protection, String) {
        let mut p = Protection::default();
        let otp = "0123456789abcdef".to_owned();
        let change = p.plan_otp(Some(otp.clone()), None).unwrap();
        p.apply(&change);
        (p, otp)
    }

    #[test]
    fn unprotected_documents_admit_anyone_and_refuse_read_only_links() {
        let mut p = Protection::default();
        assert!(p.admits(&Access::new(None, None)));
        assert!(p.admits(&Access::new(Some("x"), None)));
        assert_eq!(
            p.admit(&Access::new(None, Some("x"))),
            Some(Admission {
                role: Role::Viewer,
                view_generation: None
            })
        );
        assert!(matches!(p.plan_view(true), Err(ChangeError::NotProtected)));
        let removal = p.plan_view(false).unwrap();
        assert_eq!(removal.new_view(), None, "nothing to remove");
    }

    #[test]
    fn the_view_secret_admits_viewers_only_and_survives_storage() {
        let (mut p, otp) = protected();
        let change = p.plan_view(true).unwrap();
        let secret = change.new_view().flatten().unwrap().to_owned();
        p.apply(&change);
        assert_eq!(p.view_secret(), Some(secret.as_str()));
        assert!(p.admits(&Access::View(secret.clone())));
        assert!(!p.admits(&Access::Edit(Some(secret.clone()))));
        assert!(!p.admits(&Access::View(otp.clone())));
        assert!(!p.admits(&Access::View(String::new())));
        assert_eq!(
            p.admit(&Access::View(secret.clone())),
            Some(Admission {
                role: Role::Viewer,
                view_generation: Some(1)
            })
        );

        // Back from storage: the secret is unknown until an editor
        // presents the OTP.
        let (hash, view) = p.stored();
        let mut back = Protection::from_stored(hash, view);
        assert!(back.admits(&Access::View(secret.clone())));
        assert_eq!(back.view_secret(), None);
        assert_eq!(back.admit(&Access::Edit(Some("wrong".into()))), None);
        assert_eq!(back.view_secret(), None);
        assert!(back.admit(&Access::Edit(Some(otp.clone()))).is_some());
        assert_eq!(back.view_secret(), Some(secret.as_str()));
    }

    #[test]
    fn rotating_the_otp_keeps_the_link_and_unprotecting_removes_it() {
        let (mut p, _) = protected();
        let change = p.plan_view(true).unwrap();
        let secret = change.new_view().flatten().unwrap().to_owned();
        p.apply(&change);
        let generation = p.view_generation();

        let new_otp = "fedcba9876543210".to_owned();
        let rotation = p.plan_otp(Some(new_otp.clone()), None).unwrap();
        assert_eq!(rotation.new_view(), None, "the link is kept");
        p.apply(&rotation);
        assert_eq!(p.view_generation(), generation);
        assert!(p.admits(&Access::View(secret.clone())));
        // Sealed under the new OTP now.
        let (hash, view) = p.stored();
        let mut back = Protection::from_stored(hash, view);
        back.admit(&Access::Edit(Some(new_otp))).unwrap();
        assert_eq!(back.view_secret(), Some(secret.as_str()));

        let removal = p.plan_otp(None, None).unwrap();
        assert_eq!(removal.new_view(), Some(None));
        p.apply(&removal);
        assert!(!p.has_view_link());
        assert_eq!(p.view_generation(), generation + 1);
        assert_eq!(p.stored(), (None, None));
    }

    #[test]
    fn replacing_the_link_moves_to_a_new_generation() {
        let (mut p, _) = protected();
        let first = p.plan_view(true).unwrap();
        p.apply(&first);
        let old = p.view_secret().unwrap().to_owned();
        let second = p.plan_view(true).unwrap();
        p.apply(&second);
        let new = p.view_secret().unwrap().to_owned();
        assert_ne!(old, new);
        assert_eq!(p.view_generation(), 2);
        assert!(!p.admits(&Access::View(old)));
        assert!(p.admits(&Access::View(new)));
        let removal = p.plan_view(false).unwrap();
        p.apply(&removal);
        assert_eq!(p.view_generation(), 3);
        assert!(!p.has_view_link());
    }

    #[test]
    fn a_stored_otp_unknown_in_memory_blocks_new_links_until_presented() {
        let (p, otp) = protected();
        let (hash, view) = p.stored();
        let mut back = Protection::from_stored(hash, view);
        assert!(matches!(back.plan_view(true), Err(ChangeError::OtpUnknown)));
        back.admit(&Access::Edit(Some(otp))).unwrap();
        assert!(back.plan_view(true).is_ok());
    }
}
