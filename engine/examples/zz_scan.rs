fn main() {
    let p = std::env::args().nth(1).unwrap();
    let input = portcullis::source::open(p.as_ref(), &Default::default()).unwrap();
    for e in &input.evidence {
        if let portcullis::evidence::Evidence::Image(i) = e {
            let s = i.scan.as_ref().unwrap();
            println!("{} files={} binaries={} packages={} os={:?} eff={:?}/{}/{}", i.subject.digest, s.files.len(), s.binaries.len(), s.packages.len(), s.os_id, s.efficiency.score, s.efficiency.wasted_bytes, s.efficiency.total_bytes);
            for b in s.binaries.iter().filter(|b| b.elf.is_go) {
                println!("  {} {:?} static={} stripped={} pie={} links={:?} go={:?} settings={:?}", b.path, b.elf.machine_name, b.elf.is_static(), b.elf.stripped(), b.elf.pie, b.elf.links, b.elf.go.as_ref().map(|g| &g.go_version), b.elf.go.as_ref().map(|g| &g.settings));
            }
        } else if let portcullis::evidence::Evidence::Unreadable { reason, .. } = e { println!("unreadable {reason}"); }
    }
}
