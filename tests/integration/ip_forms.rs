//! Address spellings as they appear in Sentinel entities and logs, with the expected outcome:
//! "lookup CANONICAL", "skip REASON (CANONICAL)" or "invalid"; an empty list means the field
//! contains no address at all.

use sentinel_ip_enrich::parse::{Parsed, parse_field};

fn outcome(parsed: &Parsed) -> String {
    match parsed {
        Parsed::Lookup(ip) => format!("lookup {ip}"),
        Parsed::Skip(ip, reason) => format!("skip {reason} ({ip})"),
        Parsed::Invalid(_) => "invalid".to_string(),
    }
}

fn check(input: &str, expected: &[&str]) {
    let outcomes: Vec<String> = parse_field(input)
        .iter()
        .map(|occurrence| outcome(&occurrence.parsed))
        .collect();
    assert_eq!(outcomes, expected, "input {input:?}");
}

macro_rules! ip_forms {
    ($($name:ident: $input:expr => [$($expected:expr),*];)*) => {
        $(
            #[test]
            fn $name() {
                check($input, &[$($expected),*]);
            }
        )*
    };
}

ip_forms! {
    plain_global_ipv4: "45.33.32.156" => ["lookup 45.33.32.156"];
    surrounding_spaces: " 1.1.1.1 " => ["lookup 1.1.1.1"];
    ipv4_with_port: "1.1.1.1:53" => ["lookup 1.1.1.1"];
    bracketed_ipv6_with_port: "[2606:4700:4700::1111]:443" => ["lookup 2606:4700:4700::1111"];
    uncompressed_ipv6_compressed: "2606:4700:4700:0:0:0:0:1111" => ["lookup 2606:4700:4700::1111"];
    compressed_ipv6: "2606:4700:4700::1111" => ["lookup 2606:4700:4700::1111"];
    ipv4_mapped_ipv6_as_ipv4: "::ffff:8.8.8.8" => ["lookup 8.8.8.8"];
    ipv4_mapped_private: "::ffff:10.0.0.1" => ["skip private (10.0.0.1)"];
    rfc1918_ten: "10.1.2.3" => ["skip private (10.1.2.3)"];
    rfc1918_172: "172.16.5.4" => ["skip private (172.16.5.4)"];
    rfc1918_192: "192.168.0.1" => ["skip private (192.168.0.1)"];
    carrier_grade_nat: "100.64.1.1" => ["skip shared (100.64.1.1)"];
    loopback_ipv4: "127.0.0.1" => ["skip loopback (127.0.0.1)"];
    cloud_metadata_link_local: "169.254.169.254" => ["skip link-local (169.254.169.254)"];
    global_169_prefix: "169.1.2.3" => ["lookup 169.1.2.3"];
    unspecified_ipv4: "0.0.0.0" => ["skip unspecified (0.0.0.0)"];
    limited_broadcast: "255.255.255.255" => ["skip broadcast (255.255.255.255)"];
    multicast_ipv4: "224.0.0.251" => ["skip multicast (224.0.0.251)"];
    documentation_with_port: "203.0.113.5:8080" => ["skip documentation (203.0.113.5)"];
    benchmarking_ipv4: "198.18.0.1" => ["skip benchmarking (198.18.0.1)"];
    reserved_class_e: "240.0.0.1" => ["skip reserved (240.0.0.1)"];
    loopback_ipv6: "::1" => ["skip loopback (::1)"];
    link_local_with_zone: "fe80::1%eth0" => ["skip link-local (fe80::1)"];
    unique_local_ipv6: "fd12:3456:789a::1" => ["skip unique-local (fd12:3456:789a::1)"];
    documentation_ipv6: "2001:db8::1" => ["skip documentation (2001:db8::1)"];
    multicast_ipv6: "ff02::1" => ["skip multicast (ff02::1)"];
    leading_zero_octal: "0127.0.0.1" => ["invalid"];
    leading_zero_first_part: "010.8.8.8" => ["invalid"];
    octet_out_of_range: "256.1.1.1" => ["invalid"];
    three_parts: "1.2.3" => ["invalid"];
    not_an_ip: "not-an-ip" => ["invalid"];
    empty_string_ignored: "" => [];
    comma_separated_list: "192.168.100.226,10.251.20.65,8.8.8.8" => [
        "skip private (192.168.100.226)",
        "skip private (10.251.20.65)",
        "lookup 8.8.8.8"
    ];

    // The same kinds of fault, in spellings beyond the list above.
    hexadecimal_part: "0x7f.0.0.1" => ["invalid"];
    bare_integer: "134744072" => ["invalid"];
    two_parts: "127.1" => ["invalid"];
    five_parts: "1.2.3.4.5" => ["invalid"];
    port_out_of_range: "1.1.1.1:70000" => ["invalid"];
    empty_port: "1.1.1.1:" => ["invalid"];
    unbracketed_ipv6_port_is_an_address: "2606:4700::1111:443" => ["lookup 2606:4700::1111:443"];
    uppercase_ipv6_lowercased: "2606:4700:4700::ABCD" => ["lookup 2606:4700:4700::abcd"];
    zone_on_ipv4_rejected: "10.0.0.1%eth0" => ["invalid"];
    whitespace_only: "   " => [];
    empty_list_items: "8.8.8.8,,1.1.1.1, " => ["lookup 8.8.8.8", "lookup 1.1.1.1"];
    this_network_block: "0.1.2.3" => ["skip reserved (0.1.2.3)"];
    shared_block_edge: "100.127.255.255" => ["skip shared (100.127.255.255)"];
    just_outside_shared: "100.128.0.0" => ["lookup 100.128.0.0"];
    private_172_upper_edge: "172.31.255.255" => ["skip private (172.31.255.255)"];
    just_outside_172_private: "172.32.0.1" => ["lookup 172.32.0.1"];
    ietf_protocol_block: "192.0.0.1" => ["skip reserved (192.0.0.1)"];
    pcp_anycast_is_global: "192.0.0.9" => ["lookup 192.0.0.9"];
    documentation_192_0_2: "192.0.2.1" => ["skip documentation (192.0.2.1)"];
    documentation_198_51_100: "198.51.100.1" => ["skip documentation (198.51.100.1)"];
    benchmarking_upper: "198.19.255.1" => ["skip benchmarking (198.19.255.1)"];
    unspecified_ipv6: "::" => ["skip unspecified (::)"];
    ipv6_documentation_3fff: "3fff::1" => ["skip documentation (3fff::1)"];
    ipv6_benchmarking: "2001:2::1" => ["skip benchmarking (2001:2::1)"];
    ipv6_unallocated_reserved: "4000::1" => ["skip reserved (4000::1)"];
    nat64_embedding_private: "64:ff9b::10.0.0.1" => ["skip private (64:ff9b::a00:1)"];
    nat64_embedding_global: "64:ff9b::8.8.8.8" => ["lookup 64:ff9b::808:808"];
    six_to_four_embedding_private: "2002:c0a8:0101::1" => ["skip private (2002:c0a8:101::1)"];
    bracketed_ipv6_without_port: "[2001:db8::1]" => ["skip documentation (2001:db8::1)"];
    mapped_loopback: "::ffff:127.0.0.1" => ["skip loopback (127.0.0.1)"];
}
