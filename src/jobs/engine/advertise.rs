//! The engine's side of discovery and of its two servers: advertised jobs
//! become service instances, health results go to the backend, watch
//! results become events, and the control socket and telemetry endpoint
//! are opened and routed.

use super::*;
use crate::config::schema::WatchConfig;
use crate::discovery::{BackendConfig, Health, Instance, Notice, Service, WatchKind, WatchSpec};
use crate::net::interfaces;

/// The telemetry endpoint's own service: ContainerPilot's hidden one, with
/// its TTL and heartbeat.
const TELEMETRY_SERVICE: &str = "containerpilot";
const TELEMETRY_TTL: u64 = 15_000_000_000;
const TELEMETRY_BEAT: u64 = 5_000_000_000;

/// What one configured watch has seen.
pub(super) struct WatchState {
    pub name: String,
    pub spec: WatchSpec,
    /// Its index in the discovery backend.
    pub index: usize,
    pub healthy: Option<bool>,
    pub instances: Vec<Instance>,
}

impl WatchState {
    pub fn target(&self) -> String {
        // Words pushed, not format!: fixed text and a name or two.
        let (word, name, tag, dc) = match &self.spec.kind {
            WatchKind::Service { service, tag, dc } => ("service ", service, tag, dc),
            WatchKind::Key(k) => ("key ", k, &None, &None),
            WatchKind::Prefix(p) => ("prefix ", p, &None, &None),
        };
        let mut s = String::from(word);
        s.push_str(name);
        if let Some(t) = tag {
            s.push_str(" tag ");
            s.push_str(t);
        }
        if let Some(d) = dc {
            s.push_str(" dc ");
            s.push_str(d);
        }
        s
    }
}

/// The discovery backend a config asks for: its own keys first, then the
/// environment (CONSUL_HTTP_ADDR, ETCD_ENDPOINTS), else none.
pub(super) fn backend_config(config: &Config, env: &Environ) -> Option<BackendConfig> {
    let consul_token = |own: Option<&String>| {
        own.cloned()
            .or_else(|| env.get("CONSUL_HTTP_TOKEN").map(String::from))
    };
    // The config's scheme was checked when it loaded, the environment's by
    // Discovery::new. A Consul address that does not parse is kept: like
    // ContainerPilot, tug then treats the agent as unreachable (every call
    // fails and is retried with backoff) rather than refuse to start.
    if let Some(c) = &config.consul {
        return Some(BackendConfig::Consul {
            address: c.address.clone(),
            token: consul_token(c.token.as_ref()),
        });
    }
    let env_endpoints = || {
        env.get("ETCD_ENDPOINTS").map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(String::from)
                .collect::<Vec<_>>()
        })
    };
    if let Some(e) = &config.etcd {
        let mut endpoints = e.endpoints.clone();
        if endpoints.is_empty() {
            endpoints = env_endpoints().unwrap_or_default();
        }
        if endpoints.is_empty() {
            endpoints.push("http://127.0.0.1:2379".into());
        }
        return Some(BackendConfig::Etcd {
            endpoints,
            prefix: e.prefix.clone(),
        });
    }
    if let Some(addr) = env.get("CONSUL_HTTP_ADDR").filter(|a| !a.is_empty()) {
        return Some(BackendConfig::Consul {
            address: addr.into(),
            token: consul_token(None),
        });
    }
    if let Some(endpoints) = env_endpoints().filter(|e| !e.is_empty()) {
        return Some(BackendConfig::Etcd {
            endpoints,
            prefix: "/services".into(),
        });
    }
    None
}

/// `CONTAINERPILOT_<NAME>_IP`, `TUG_WATCH_<NAME>`: upper case, and every
/// character a shell variable cannot hold becomes `_`.
fn env_name(prefix: &str, name: &str, suffix: &str) -> String {
    let mut out = String::from(prefix);
    out.extend(name.chars().map(|c| {
        if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        }
    }));
    out.push_str(suffix);
    out
}

impl Supervisor<'_> {
    /// Reads this host's addresses once for every `interfaces` choice that
    /// follows (start-up, or a reload), not once per advertised job.
    pub(super) fn read_interfaces(&mut self) {
        self.ifaces = interfaces::local_addresses();
    }

    /// The address the `interfaces` specs pick (none: ContainerPilot's
    /// defaults).
    fn choose_address(
        &self,
        specs: &[String],
    ) -> core::result::Result<crate::sys::net::Ip, String> {
        interfaces::select(specs, self.ifaces.as_deref().map_err(String::clone)?)
    }

    /// Discovery, the control socket and telemetry, as the config asks.
    pub(super) fn open_services(
        &mut self,
        config: &Config,
        opts: &Options<'_>,
    ) -> core::result::Result<(), String> {
        if let Some(backend) = backend_config(config, self.env) {
            self.discovery = Some(Discovery::new(&backend, route::DISCOVERY_BASE)?);
        }
        if self.discovery.is_some() || config.telemetry.is_some() {
            self.read_interfaces();
        }
        self.open_control(config, opts)?;
        if let Some(t) = &config.telemetry {
            let ip = match t.interfaces.is_empty() {
                // Unlike a job, telemetry may listen everywhere.
                true => crate::sys::net::Ip::V4([0; 4]),
                false => self
                    .choose_address(&t.interfaces)
                    .map_err(|e| format!("telemetry.interfaces: {e}"))?,
            };
            let (tel, port) = crate::telemetry::listen(ip, t.port, route::TELEMETRY_BASE)
                .map_err(|e| format!("telemetry: {e}"))?;
            tel.register(&self.lp)
                .map_err(|e| format!("telemetry: cannot watch its listener: {e}"))?;
            info!("telemetry listening on {}:{port}", interfaces::ip_text(&ip));
            self.telemetry = Some(tel);
            self.advertise_telemetry(ip, port, &t.tags);
        }
        Ok(())
    }

    /// The control socket: `--socket`, TUG_SOCKET, `control.socket`, the
    /// defaults (`control` module docs). Only a path the user chose is
    /// fatal when it cannot be opened; the defaults are best effort.
    fn open_control(
        &mut self,
        config: &Config,
        opts: &Options<'_>,
    ) -> core::result::Result<(), String> {
        let chosen = opts
            .socket
            .map(String::from)
            .or_else(|| self.env.get("TUG_SOCKET").map(String::from))
            .or_else(|| config.control_socket.clone());
        let explicit = chosen.is_some();
        let allow = &config.control_allow;
        let opened = match &chosen {
            Some(path) => Control::open(path, allow, route::CONTROL_BASE),
            None => Control::open_default(opts.default_socket, allow, route::CONTROL_BASE),
        }
        .and_then(|c| c.register(&self.lp).map(|()| c));
        match opened {
            Ok(c) => {
                info!("control socket listening on {}", c.path());
                self.control = Some(c);
                Ok(())
            }
            Err(e) if explicit => Err(format!("control socket: {e}")),
            Err(e) => {
                warning!("no control socket: {e}");
                Ok(())
            }
        }
    }

    fn advertise_telemetry(&mut self, ip: crate::sys::net::Ip, port: u16, tags: &[String]) {
        if self.discovery.is_none() {
            return;
        }
        // Listening everywhere: advertise what a job would.
        let ip = match ip {
            crate::sys::net::Ip::V4([0, 0, 0, 0]) => match self.choose_address(&[]) {
                Ok(a) => a,
                Err(e) => {
                    warning!("telemetry is not advertised: {e}");
                    return;
                }
            },
            other => other,
        };
        let address = interfaces::ip_text(&ip);
        let Some(d) = &mut self.discovery else {
            return;
        };
        let id = format!("{TELEMETRY_SERVICE}-{}", self.hostname);
        let mut tags = tags.to_vec();
        tags.push(format!("tug-{}", crate::cli::VERSION));
        d.add_service(
            &mut self.lp,
            Service {
                id: id.clone(),
                name: TELEMETRY_SERVICE.into(),
                address,
                port,
                tags,
                meta: Vec::new(),
                ttl_ns: TELEMETRY_TTL,
                enable_tag_override: false,
                deregister_after: None,
                initial_status: Some("passing".into()),
            },
        );
        self.telemetry_service = Some(id);
        let at = self.lp.now() + TELEMETRY_BEAT;
        self.lp.add_timer(at, Key::TelemetryBeat.raw());
    }

    pub(super) fn telemetry_heartbeat(&mut self) {
        let (Some(d), Some(id)) = (&mut self.discovery, &self.telemetry_service) else {
            return;
        };
        if self.discovery_closing {
            return;
        }
        d.set_health(&mut self.lp, id, Health::Passing, "ok");
        let at = self.lp.now() + TELEMETRY_BEAT;
        self.lp.add_timer(at, Key::TelemetryBeat.raw());
    }

    /// The service instance of an advertised job (None: not advertised, or
    /// no address could be chosen — the job still runs).
    pub(super) fn service_of(&self, cfg: &JobConfig) -> Option<Service> {
        let port = cfg.port?;
        self.discovery.as_ref()?;
        let address = match self.choose_address(&cfg.interfaces) {
            Ok(a) => interfaces::ip_text(&a),
            Err(e) => {
                error!("job {}: not advertised: {e}", cfg.name);
                return None;
            }
        };
        Some(Service {
            id: format!("{}-{}", cfg.name, self.hostname),
            name: cfg.name.clone(),
            address,
            port,
            tags: cfg.tags.clone(),
            meta: cfg.meta.clone(),
            ttl_ns: cfg.health.as_ref().and_then(|h| h.ttl).unwrap_or(0),
            enable_tag_override: cfg.enable_tag_override,
            deregister_after: cfg.deregister_after.clone(),
            initial_status: cfg.initial_status.clone(),
        })
    }

    /// The job started: its instance is known to discovery from now on.
    pub(super) fn advertise(&mut self, i: usize) {
        let job = &mut self.jobs[i];
        if job.advertised {
            return;
        }
        if let (Some(d), Some(svc)) = (&mut self.discovery, &job.service) {
            d.add_service(&mut self.lp, svc.clone());
            job.advertised = true;
        }
    }

    /// The job is stopping for good: out of the catalog.
    pub(super) fn withdraw(&mut self, i: usize) {
        let job = &mut self.jobs[i];
        if !core::mem::take(&mut job.advertised) {
            return;
        }
        if let (Some(d), Some(svc)) = (&mut self.discovery, &job.service) {
            d.remove_service(&mut self.lp, &svc.id);
        }
    }

    /// A job's `healthy` or `unhealthy` reaches its registration, with
    /// what the last check said (a notify job's READY=1 has no check).
    pub(super) fn report_health(&mut self, ev: &Ev) {
        let passed = match ev.code {
            Code::Healthy => true,
            Code::Unhealthy => false,
            _ => return,
        };
        let Some(job) = self
            .jobs
            .iter()
            .find(|j| j.advertised && j.name() == ev.source)
        else {
            return;
        };
        let detail = match &job.last_check {
            Some((_, detail, _)) => detail.as_str(),
            None => "ready",
        };
        if let (Some(d), Some(svc)) = (&mut self.discovery, &job.service) {
            let h = if passed {
                Health::Passing
            } else {
                Health::Critical
            };
            d.set_health(&mut self.lp, &svc.id, h, detail);
        }
    }

    pub(super) fn add_watches(&mut self, watches: &[WatchConfig]) {
        for w in watches {
            self.add_watch(w);
        }
    }

    pub(super) fn add_watch(&mut self, w: &WatchConfig) {
        let spec = watch_spec(w);
        let Some(d) = &mut self.discovery else {
            warning!(
                "watch {} needs a discovery backend (consul or etcd): it will never fire",
                w.name
            );
            return;
        };
        let index = d.add_watch(&mut self.lp, spec.clone());
        self.watches.push(WatchState {
            name: w.name.clone(),
            spec,
            index,
            healthy: None,
            instances: Vec::new(),
        });
    }

    pub(super) fn on_discovery(&mut self, token: u64, timer: bool) {
        let Some(d) = &mut self.discovery else {
            return;
        };
        let mut notices = Vec::new();
        if timer {
            d.on_timer(&mut self.lp, token, &mut notices);
        } else {
            d.on_ready(&mut self.lp, token, &mut notices);
        }
        for n in notices {
            match n {
                Notice::WatchChanged {
                    watch,
                    healthy,
                    instances,
                } => self.watch_changed(watch, healthy, instances),
            }
        }
    }

    /// ContainerPilot's order: `changed`, then `healthy` or `unhealthy`.
    fn watch_changed(&mut self, index: usize, healthy: bool, instances: Vec<Instance>) {
        // TUG_WATCH_* in an inetd job's cached environment is out of date.
        for j in &mut self.jobs {
            j.instance_setup = None;
        }
        let Some(w) = self.watches.iter_mut().find(|w| w.index == index) else {
            return;
        };
        info!(
            "watch {}: {} instance(s), {}",
            w.name,
            instances.len(),
            if healthy { "healthy" } else { "unhealthy" }
        );
        w.healthy = Some(healthy);
        w.instances = instances;
        let source = format!("watch.{}", w.name);
        let (name, n) = (w.name.clone(), w.instances.len());
        self.metrics.watch_instances(&name, n);
        self.publish(Code::Changed, &source);
        self.publish(
            if healthy {
                Code::Healthy
            } else {
                Code::Unhealthy
            },
            &source,
        );
    }

    /// What children learn about discovery, per spawn: each advertised
    /// job's address (ContainerPilot's CONTAINERPILOT_<JOB>_IP) and each
    /// service watch's passing instances as `TUG_WATCH_<NAME>=ip:port,...`
    /// (IPv6 in brackets), so an onChange job sees the set that fired it.
    pub(super) fn discovery_env(&self) -> Vec<(String, String)> {
        let mut vars = Vec::new();
        for job in &self.jobs {
            if let Some(svc) = &job.service {
                vars.push((
                    env_name("CONTAINERPILOT_", job.name(), "_IP"),
                    svc.address.clone(),
                ));
            }
        }
        for w in &self.watches {
            if w.healthy.is_none() || !matches!(w.spec.kind, WatchKind::Service { .. }) {
                continue;
            }
            let mut list = String::new();
            for i in w.instances.iter().filter(|i| i.status == "passing") {
                if !list.is_empty() {
                    list.push(',');
                }
                // An IPv6 address in brackets, before its port.
                let v6 = i.address.contains(':');
                if v6 {
                    list.push('[');
                }
                list.push_str(&i.address);
                list.push_str(if v6 { "]:" } else { ":" });
                list.push_str(&i.port.to_string());
            }
            vars.push((env_name("TUG_WATCH_", &w.name, ""), list));
        }
        vars
    }

    // ---- the control socket and telemetry ----

    pub(super) fn on_request(&mut self, token: u64) {
        let control = route::is_control(token);
        let mut pending = Vec::new();
        match (control, &mut self.control, &mut self.telemetry) {
            // The control socket checks its peers first.
            (true, Some(c), _) => c.on_ready(&mut self.lp, token, &mut pending),
            (false, _, Some(t)) => t.on_ready(&mut self.lp, token, &mut pending),
            _ => return,
        }
        for p in pending {
            if control {
                self.answer_control(p.conn, &p.req);
                continue;
            }
            let resp = crate::telemetry::route(&p.req, &mut |page| self.telemetry_page(page));
            if let Some(s) = server_of(control, &mut self.control, &mut self.telemetry) {
                s.respond(&mut self.lp, p.conn, resp);
            }
        }
    }

    /// A telemetry page, made when it is asked for: only a scrape reads
    /// /proc and brings the job-state gauges up to date.
    fn telemetry_page(&mut self, page: crate::telemetry::Page) -> String {
        match page {
            crate::telemetry::Page::Metrics => {
                self.sync_job_states();
                let stats = crate::telemetry::process_stats(self.lp.wakeups());
                self.metrics.render(&stats)
            }
            crate::telemetry::Page::Status => self.status_report().to_containerpilot_json(),
        }
    }

    pub(super) fn on_server_timer(&mut self, key: u64) {
        let control = route::is_control(key);
        if let Some(s) = server_of(control, &mut self.control, &mut self.telemetry) {
            s.on_timer(&mut self.lp, key);
        }
    }

    pub(super) fn close_servers(&mut self) {
        if let Some(c) = &mut self.control {
            c.close(&mut self.lp);
        }
        if let Some(t) = &mut self.telemetry {
            t.shutdown(&mut self.lp);
        }
    }
}

/// The HTTP server a control or telemetry token belongs to.
fn server_of<'a>(
    control: bool,
    c: &'a mut Option<Control>,
    t: &'a mut Option<crate::net::server::Server>,
) -> Option<&'a mut crate::net::server::Server> {
    if control {
        c.as_mut().map(Control::server)
    } else {
        t.as_mut()
    }
}

pub(super) fn watch_spec(w: &WatchConfig) -> WatchSpec {
    let kind = match (&w.key, &w.prefix) {
        (Some(k), _) => WatchKind::Key(k.clone()),
        (None, Some(p)) => WatchKind::Prefix(p.clone()),
        (None, None) => WatchKind::Service {
            service: w.name.clone(),
            tag: w.tag.clone(),
            dc: w.dc.clone(),
        },
    };
    WatchSpec {
        name: w.name.clone(),
        kind,
    }
}
