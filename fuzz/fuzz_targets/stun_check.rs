#![no_main]

use std::net::SocketAddr;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use shardcast_proto::ice::{IceCredentials, IceLite, local_ufrag};

fuzz_target!(|data: &[u8]| {
    let _ = local_ufrag(data);
    let local = IceCredentials {
        ufrag: "fuzzufrg".into(),
        pwd: "fuzzpasswordfuzzpassword".into(),
    };
    let mut ice = IceLite::new(local, "peer".into(), Instant::now());
    let source = SocketAddr::from(([192, 0, 2, 1], 5000));
    if ice.handle_receive(Instant::now(), source, data).is_err() {
        assert!(ice.poll_transmit().is_none(), "a refused check is never answered");
    }
});
