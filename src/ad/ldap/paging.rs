//! The decisions of the paged-search loop, with no I/O, so the cases a lab
//! Samba never produces can be tested: AD cuts every page at MaxPageSize
//! and hands back a cookie, stops a search with sizeLimitExceeded, or a
//! server repeats a cookie without progress. `search.rs` does the I/O and
//! asks the [`Pager`] what to do after every entry and every page.

use crate::error::{Error, Kind};

use super::result::{Op, directory_error};

/// What the caller should send next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PageRequest {
    /// Page size for the paged-results control.
    pub size: i32,
    /// Cookie from the previous page (empty for the first).
    pub cookie: Vec<u8>,
    /// Server-side size limit of the search request (0 = none).
    pub size_limit: i32,
    /// Send the paged-results control. Not when the size limit fits in one
    /// page: without paging state a server can stop at the limit (Samba's
    /// paged search first collects every match, whatever the limit).
    pub paged: bool,
}

/// How a page ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PageEnd {
    pub rc: u32,
    pub text: String,
    pub refs: Vec<String>,
    /// The paged-results response: `None` when the server sent no control.
    pub cookie: Option<Vec<u8>>,
}

/// What to do after a page.
#[derive(Debug, Clone)]
pub(super) enum Step {
    /// Ask for the next page.
    Next(PageRequest),
    /// Finished. `release` holds a cookie the server still keeps state for
    /// (send it with size 0 to free it); `None` when there is nothing to free.
    Done {
        release: Option<Vec<u8>>,
    },
    Fail(Error),
}

/// The loop state.
#[derive(Debug, Clone)]
pub(super) struct Pager {
    page_size: i32,
    /// 0 = no limit.
    limit: usize,
    delivered: usize,
    in_page: usize,
    pages: usize,
    cookie: Vec<u8>,
}

impl Pager {
    /// `page_size` is already capped; `limit` is the caller's size limit (0 = none).
    pub fn new(page_size: usize, limit: usize) -> Pager {
        let mut size = page_size.clamp(1, i32::MAX as usize);
        if limit > 0 {
            size = size.min(limit);
        }
        Pager {
            page_size: size as i32,
            limit,
            delivered: 0,
            in_page: 0,
            pages: 0,
            cookie: Vec::new(),
        }
    }

    /// The first request.
    pub fn first(&self) -> PageRequest {
        self.request()
    }

    fn request(&self) -> PageRequest {
        PageRequest {
            size: self.page_size,
            cookie: self.cookie.clone(),
            // Telling the server the limit lets AD stop early; Samba ignores it
            // in a paged search.
            size_limit: i32::try_from(self.limit).unwrap_or(i32::MAX),
            paged: self.limit == 0 || self.limit > self.page_size as usize,
        }
    }

    /// Called for each entry received: `true` to deliver it, `false` when the
    /// size limit is already reached (stop reading and abandon the page).
    pub fn accept(&mut self) -> bool {
        if self.limit > 0 && self.delivered >= self.limit {
            return false;
        }
        self.delivered += 1;
        self.in_page += 1;
        true
    }

    /// True once the caller's size limit has been delivered.
    pub fn limit_reached(&self) -> bool {
        self.limit > 0 && self.delivered >= self.limit
    }

    pub fn delivered(&self) -> usize {
        self.delivered
    }

    /// Decides after a page, given how it ended.
    pub fn end_page(&mut self, end: PageEnd) -> Step {
        let in_page = std::mem::take(&mut self.in_page);
        self.pages += 1;
        let live_cookie = end.cookie.clone().filter(|c| !c.is_empty());
        if self.limit_reached() {
            return Step::Done { release: if end.rc == 0 { live_cookie } else { None } };
        }
        match end.rc {
            0 => match live_cookie {
                None => Step::Done { release: None },
                Some(c) if c == self.cookie && in_page == 0 => Step::Fail(Error::new(
                    Kind::ProtocolError,
                    format!(
                        "the server returned the same paging cookie again without entries (page {})",
                        self.pages
                    ),
                )),
                Some(c) => {
                    self.cookie = c;
                    Step::Next(self.request())
                }
            },
            4 => {
                let paged = end.cookie.is_some();
                let mut e = Error::new(
                    Kind::SizeLimit,
                    format!(
                        "the server stopped the search at its size limit after {} entries",
                        self.delivered
                    ),
                )
                .with_server_text(end.text);
                e = e.with_hint(if paged {
                    "AD's MaxResultSetSize or an administrative limit was hit; narrow the base or the filter"
                } else {
                    "the server did not page the results (no paged-results response); narrow the base or the filter"
                });
                Step::Fail(e)
            }
            rc => Step::Fail(directory_error(Op::Search, None, rc, &end.text, &end.refs)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(rc: u32, cookie: Option<&[u8]>) -> PageEnd {
        PageEnd { rc, text: String::new(), refs: vec![], cookie: cookie.map(|c| c.to_vec()) }
    }

    /// Drives the pager against a scripted server: each page is (entries sent, how it ended).
    fn drive(p: &mut Pager, pages: &[(usize, PageEnd)]) -> (Vec<PageRequest>, usize, Step) {
        let mut requests = vec![p.first()];
        let mut got = 0;
        for (n, e) in pages {
            for _ in 0..*n {
                if !p.accept() {
                    break;
                }
                got += 1;
            }
            match p.end_page(e.clone()) {
                Step::Next(r) => requests.push(r),
                other => return (requests, got, other),
            }
        }
        panic!("script ended while the pager still wanted pages: {requests:?}");
    }

    #[test]
    fn follows_cookies_of_a_server_that_caps_pages_at_1000() {
        // 2,500 entries on AD: 1000 + 1000 + 500, cookies until the last page.
        let mut p = Pager::new(1000, 0);
        let (reqs, got, last) = drive(
            &mut p,
            &[(1000, end(0, Some(b"c1"))), (1000, end(0, Some(b"c2"))), (500, end(0, Some(b"")))],
        );
        assert_eq!(got, 2500);
        assert!(matches!(last, Step::Done { release: None }), "{last:?}");
        let cookies: Vec<&[u8]> = reqs.iter().map(|r| r.cookie.as_slice()).collect();
        assert_eq!(cookies, [&b""[..], b"c1", b"c2"]);
        assert!(reqs.iter().all(|r| r.size == 1000 && r.size_limit == 0));
    }

    #[test]
    fn a_server_that_ignores_paging_ends_after_one_page() {
        let mut p = Pager::new(1000, 0);
        let (reqs, got, last) = drive(&mut p, &[(5000, end(0, None))]);
        assert_eq!((reqs.len(), got), (1, 5000));
        assert!(matches!(last, Step::Done { release: None }), "{last:?}");
    }

    #[test]
    fn size_limit_exceeded_from_the_server_is_an_error_unless_we_asked_for_it() {
        // AD: non-paged or over MaxResultSetSize → rc 4 after some entries.
        let mut p = Pager::new(1000, 0);
        let (_, got, last) =
            drive(&mut p, &[(1000, end(0, Some(b"c1"))), (1000, end(4, Some(b"")))]);
        assert_eq!(got, 2000);
        match last {
            Step::Fail(e) => {
                assert_eq!(e.kind, Kind::SizeLimit);
                assert!(e.message.contains("2000"));
            }
            other => panic!("{other:?}"),
        }
        // We asked for 10: AD sends 10 and rc 4; that is the requested outcome.
        let mut p = Pager::new(1000, 10);
        assert_eq!(p.first().size, 10);
        assert_eq!(p.first().size_limit, 10);
        assert!(!p.first().paged, "a limit within one page needs no paging");
        assert!(Pager::new(1000, 0).first().paged && Pager::new(1000, 1001).first().paged);
        let (_, got, last) = drive(&mut p, &[(10, end(4, None))]);
        assert_eq!(got, 10);
        assert!(matches!(last, Step::Done { release: None }), "{last:?}");
    }

    #[test]
    fn client_side_limit_stops_mid_page_and_releases_the_cookie() {
        // Samba ignores the limit and sends full pages.
        let mut p = Pager::new(1000, 1500);
        let (reqs, got, last) =
            drive(&mut p, &[(1000, end(0, Some(b"c1"))), (1000, end(0, Some(b"c2")))]);
        assert_eq!(got, 1500);
        assert_eq!(reqs.len(), 2);
        assert!(matches!(&last, Step::Done { release: Some(c) } if c == b"c2"), "{last:?}");
        assert!(!p.accept(), "nothing more is delivered");
        assert_eq!(p.delivered(), 1500);
    }

    #[test]
    fn a_repeated_cookie_without_entries_is_a_protocol_error() {
        let mut p = Pager::new(1000, 0);
        let (_, _, last) = drive(&mut p, &[(3, end(0, Some(b"same"))), (0, end(0, Some(b"same")))]);
        assert!(matches!(last, Step::Fail(e) if e.kind == Kind::ProtocolError));
        // The same cookie with progress is fine (some servers reuse an id).
        let mut p = Pager::new(2, 0);
        let (_, got, last) =
            drive(&mut p, &[(2, end(0, Some(b"s"))), (2, end(0, Some(b"s"))), (1, end(0, None))]);
        assert_eq!(got, 5);
        assert!(matches!(last, Step::Done { release: None }));
    }

    #[test]
    fn other_result_codes_map_to_their_kind() {
        let mut p = Pager::new(1000, 0);
        let (_, _, last) = drive(&mut p, &[(0, end(32, None))]);
        assert!(matches!(last, Step::Fail(e) if e.kind == Kind::NoSuchObject));
        let mut p = Pager::new(1000, 0);
        let (_, _, last) = drive(&mut p, &[(400, end(0, Some(b"c"))), (0, end(3, None))]);
        assert!(matches!(last, Step::Fail(e) if e.kind == Kind::TimeLimit));
    }
}
