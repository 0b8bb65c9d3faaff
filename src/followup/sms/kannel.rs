//! Kannel's smsbox HTTP interface (Kannel 1.4 user guide, "Sending SMS messages" and
//! "Delivery reports"): the `sendsms` request suifang makes and the delivery-report codes
//! smsbox puts in the `dlr-url` (`%d`).

use super::DeliveryState;

/// One `sendsms` request.
#[derive(Debug, Clone)]
pub struct SendSms<'a> {
    /// `http://host:13013/cgi-bin/sendsms`.
    pub endpoint: &'a str,
    pub username: &'a str,
    pub password: &'a str,
    /// Sender id / short code (`from`); empty lets the SMSC choose.
    pub from: &'a str,
    pub to: &'a str,
    pub text: &'a str,
    /// Which reports smsbox should call `dlr_url` for (bit mask: 1 delivered, 2 failed,
    /// 4 buffered, 8 SMSC accepted, 16 SMSC rejected).
    pub dlr_mask: u8,
    /// Where the reports go; `%d` becomes the report's code.
    pub dlr_url: &'a str,
}

impl SendSms<'_> {
    /// The request URL. Text that is not plain ASCII goes as UCS-2 (`coding=2`) with
    /// `charset=UTF-8`: Kannel needs both, or Chinese arrives as `?` (charset alone) or as
    /// garbage (coding alone) — and answers 202 either way (TEST-PEERS.md, Kannel).
    pub fn url(&self) -> String {
        let mut params: Vec<(&str, String)> = vec![
            ("username", self.username.into()),
            ("password", self.password.into()),
            ("to", self.to.into()),
            ("text", self.text.into()),
            ("charset", "UTF-8".into()),
            (
                "coding",
                if self.text.is_ascii() { "0" } else { "2" }.into(),
            ),
            ("dlr-mask", self.dlr_mask.to_string()),
            ("dlr-url", self.dlr_url.into()),
        ];
        if !self.from.is_empty() {
            params.push(("from", self.from.into()));
        }
        let query: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        let sep = if self.endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        format!("{}{sep}{}", self.endpoint, query.join("&"))
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters (so `%d` in a dlr-url
/// reaches smsbox as `%25d` and comes back decoded, ready for smsbox to fill in).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A delivery report's code (`%d`) as a state: 1 delivered, 2 undeliverable, 4 buffered at
/// the SMSC, 8 accepted by the SMSC, 16 rejected by the SMSC. `None` for anything else.
pub fn report_state(code: &str) -> Option<DeliveryState> {
    Some(match code.trim() {
        "1" => DeliveryState::Delivered,
        "2" | "16" => DeliveryState::Failed,
        "4" => DeliveryState::Buffered,
        "8" => DeliveryState::Submitted,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_goes_as_ucs2_with_utf8_charset_and_the_dlr_url_survives() {
        let req = SendSms {
            endpoint: "http://127.0.0.1:13013/cgi-bin/sendsms",
            username: "tester",
            password: "p&ss word",
            from: "10086",
            to: "+8613800138000",
            text: "你好 A&B",
            dlr_mask: 31,
            dlr_url: "http://127.0.0.1:8080/sms/kannel/dlr?key=s3cret&msg=7&status=%d",
        };
        let url = req.url();
        assert!(url.starts_with("http://127.0.0.1:13013/cgi-bin/sendsms?username=tester&"));
        assert!(url.contains("&password=p%26ss%20word&"), "{url}");
        assert!(url.contains("&to=%2B8613800138000&"), "{url}");
        assert!(url.contains("&text=%E4%BD%A0%E5%A5%BD%20A%26B&"), "{url}");
        assert!(
            url.contains("&charset=UTF-8&coding=2&dlr-mask=31&"),
            "{url}"
        );
        assert!(url.contains("status%3D%25d"), "{url}");
        assert!(url.ends_with("&from=10086"), "{url}");
        let ascii = SendSms {
            text: "Hello",
            from: "",
            ..req
        };
        let url = ascii.url();
        assert!(
            url.contains("&coding=0&") && !url.contains("from="),
            "{url}"
        );
    }

    #[test]
    fn report_codes() {
        assert_eq!(report_state("1"), Some(DeliveryState::Delivered));
        assert_eq!(report_state("2"), Some(DeliveryState::Failed));
        assert_eq!(report_state("16"), Some(DeliveryState::Failed));
        assert_eq!(report_state("4"), Some(DeliveryState::Buffered));
        assert_eq!(report_state("8"), Some(DeliveryState::Submitted));
        for bad in ["", "0", "3", "x", "%d"] {
            assert_eq!(report_state(bad), None, "{bad:?}");
        }
    }
}
