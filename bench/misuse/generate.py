#!/usr/bin/python3
"""A month of personal-data reads for the misuse detector's benchmark
(bench/README.md "Misuse detection"), with injected misuse labelled.

Writes into --out DIR:
  reads.jsonl       one read a line, in time order (the line number is the
                    read's id once imported into an empty database)
  procedures.jsonl  the portal's procedures
  mandates.jsonl    the registered mandates
  labels.jsonl      the injected misuse: {"read": line number, "kind",
                    "incident", "actor"}; every read not listed is legitimate
  meta.json         the parameters, the warm-up and month boundaries (Unix ms)

The traffic (all of it reads of the population registry BCA and of the
social insurance's participants, the providers of personal data):
  - procedures handled by agencies' officers (business hours, weekdays and
    Saturday mornings), each causing reads at opening, while handled and
    right after closing, 60 % through the portal VN/GOV/VPCP/portal
    (X-Road-UserId {agency}/{officer}, X-Road-Issue {kind}/{id}), 40 % from
    the agency's own system with the same headers; a household procedure
    reads the applicant with a relative;
  - periodic checks under mandates: the tax department's batch nights
    (01:00-03:00), social insurance's batch mornings (06:00-08:00), health
    insurance checks in office hours, the Hà Nội police's residence
    checks (07:00-21:00, people born in Hà Nội and its neighbours), each
    provincial department's checks of its province (--agencies above 7);
  - subscriptions' event deliveries (any hour), citizens' own views
    through the portal (06:00-23:00), consented reads by health (office
    hours);
  - legitimate reads nothing explains: --unexplained (default 1.5 %) of the
    officers' reads carry no usable X-Road-Issue (a system that does not
    send it, a read the day before the procedure is pushed, a typo);
  - refusals at 0.7 % (AccessDenied: a subject mismatch, a consent
    expired) and 0.05 % of stale timestamps (InvalidMessage, clock skew),
    and clients' retries with the same X-Road-Id served again.
Injected in the month (not in the warm-up): officers reading people they
have no case for (a neighbour, a celebrity), bulk lookups (an officer, a
client under its mandate), reads at unusual hours, reads of unusual
provinces, one person read by unrelated agencies, probing, replays.
"""
import argparse
import calendar
import json
import os
import random
import sys
import time

PROVINCES = ['001', '002', '004', '006', '008', '010', '011', '012', '014', '015', '017',
             '019', '020', '022', '024', '025', '026', '027', '030', '031', '033', '034',
             '035', '036', '037', '038', '040', '042', '044', '045', '046', '048', '049',
             '051', '052', '054', '056', '058', '060', '062', '064', '066', '067', '068',
             '070', '072', '074', '075', '077', '079', '080', '082', '083', '084', '086',
             '087', '089', '091', '092', '093', '094', '095', '096']
BIG = {'001': 8, '079': 9, '031': 3, '048': 2, '092': 2, '038': 3, '040': 3}
HANOI_NEIGHBOURS = ['026', '027', '030', '033', '035', '017', '025']

H = 3600 * 1000
D = 24 * H
TZ = 7 * H
MIN = 60 * 1000

BCA_GW = 'VN/GOV/BCA/gw1'
BHXH_GW = 'VN/GOV/BHXH/gw1'
CITIZENS = 'VN/GOV/BCA/population/citizens'
RESIDENCE = 'VN/GOV/BCA/population/residence'
PARTICIPANTS = 'VN/GOV/BHXH/insurance/participants'
PORTAL = 'VN/GOV/VPCP/portal'

ERR_DENIED = 'Server.ServerProxy.AccessDenied'
ERR_INVALID = 'Server.ServerProxy.InvalidMessage'  # errors.c: Replay, StaleTimestamp


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out', required=True, help='output directory (created)')
    p.add_argument('--seed', type=int, default=1, help='random seed (default 1)')
    p.add_argument('--agencies', type=int, default=7,
                   help='reading agencies: the 7 national ones, more are provincial '
                        'departments (default 7, at least 7)')
    p.add_argument('--citizens', type=int, default=100000,
                   help='citizens (default 100000); traffic is proportional')
    p.add_argument('--days', type=int, default=28, help='the month analysed (default 28)')
    p.add_argument('--warmup-days', type=int, default=14,
                   help='clean history before the month (default 14)')
    p.add_argument('--start', default='2026-11-02',
                   help='first day of the warm-up, a Monday (default 2026-11-02)')
    p.add_argument('--unexplained', type=float, default=0.015,
                   help='share of officers\' reads nothing explains (default 0.015)')
    a = p.parse_args()
    if a.agencies < 7 or a.citizens < 1000 or a.days < 7 or a.warmup_days < 0:
        p.error('--agencies >= 7, --citizens >= 1000, --days >= 7, --warmup-days >= 0')
    if not 0 <= a.unexplained < 0.5:
        p.error('--unexplained: a share from 0 to 0.5')
    return a


class Gen:
    def __init__(self, a):
        self.a = a
        self.r = random.Random(a.seed)
        try:
            t = calendar.timegm(time.strptime(a.start, '%Y-%m-%d'))
        except ValueError:
            sys.exit('generate.py: --start: expected YYYY-MM-DD')
        if time.gmtime(t).tm_wday != 0:
            sys.exit('generate.py: --start: not a Monday')
        self.t0 = t * 1000 - TZ  # local midnight in Vietnam
        self.month0 = self.t0 + a.warmup_days * D
        self.end = self.month0 + a.days * D
        self.scale = a.citizens / 100000.0
        self.reads = []       # (time, dict, label or None)
        self.procedures = []
        self.mandates = []
        self.msg = 0
        self.proc_n = 0
        self.make_citizens()
        self.make_agencies()

    # --- people ---------------------------------------------------------
    def make_citizens(self):
        r = self.r
        weights = [BIG.get(p, 1) for p in PROVINCES]
        self.by_prov = {p: [] for p in PROVINCES}
        self.citizens = []
        seen = set()
        while len(self.citizens) < self.a.citizens:
            prov = r.choices(PROVINCES, weights)[0]
            year = r.randint(1940, 2020)
            female = r.random() < 0.5
            digit = (0 if year < 2000 else 2) + (1 if female else 0)
            pin = '%s%d%02d%06d' % (prov, digit, year % 100, r.randrange(1000000))
            if pin in seen:
                continue
            seen.add(pin)
            self.citizens.append(pin)
            self.by_prov[prov].append(pin)

    def anyone(self):
        return self.r.choice(self.citizens)

    def of_provinces(self, home, neighbours, home_share):
        r = self.r
        if r.random() < home_share and self.by_prov[home]:
            return r.choice(self.by_prov[home])
        for _ in range(10):
            p = r.choice(neighbours)
            if self.by_prov[p]:
                return r.choice(self.by_prov[p])
        return self.anyone()

    # --- agencies -------------------------------------------------------
    def make_agencies(self):
        r = self.r
        # member, client subsystem, procedure kinds, procedures/day per 100k
        self.agencies = [
            dict(member='VN/GOV/BTC', client='VN/GOV/BTC/TCT', kinds=['tax-registration',
                 'tax-refund'], procs=40),
            dict(member='VN/GOV/BHXH', client='VN/GOV/BHXH/insurance', kinds=['pension',
                 'sick-leave'], procs=35),
            dict(member='VN/GOV/BYT', client='VN/GOV/BYT/health', kinds=['health-card'],
                 procs=25),
            dict(member='VN/GOV/BTNMT', client='VN/GOV/BTNMT/land', kinds=['land-transfer',
                 'land-certificate'], procs=30),
            dict(member='VN/GOV/CAHN', client='VN/GOV/CAHN/residence',
                 kinds=['residence-registration'], procs=30, home='001'),
            dict(member='VN/GOV/BTP', client='VN/GOV/BTP/civil', kinds=['birth-registration',
                 'marriage'], procs=45),
            dict(member='VN/GOV/BLDTBXH', client='VN/GOV/BLDTBXH/welfare',
                 kinds=['social-allowance'], procs=20),
        ]
        others = [p for p in PROVINCES if p != '001']
        for k in range(self.a.agencies - 7):
            home = others[k % len(others)]
            idx = PROVINCES.index(home)
            neigh = [PROVINCES[j] for j in (idx - 2, idx - 1, (idx + 1) % len(PROVINCES),
                                             (idx + 2) % len(PROVINCES))]
            m = 'VN/GOV/S%s%02d' % (home, k // len(others))
            self.agencies.append(dict(member=m, client=m + '/services',
                                      kinds=['provincial-permit'], procs=8, home=home,
                                      neighbours=neigh))
        for ag in self.agencies:
            ag['officers'] = ['%s/officer%02d' % (ag['member'], i)
                              for i in range(max(3, int(6 * self.scale)))]
        created = self.t0 - 400 * D
        def mandate(client, service, purpose, basis):
            self.mandates.append(dict(client=client, service=service, purpose=purpose,
                                      basis=basis, created_ms=created))
        mandate('VN/GOV/BTC/TCT', CITIZENS, 'tax-periodic-check',
                'Luật Quản lý thuế 38/2019/QH14, art. 30')
        mandate('VN/GOV/BHXH/insurance', CITIZENS, 'contribution-check',
                'Luật Bảo hiểm xã hội 41/2024/QH15')
        mandate('VN/GOV/BYT/health', PARTICIPANTS, 'health-insurance-check',
                'Luật Bảo hiểm y tế 51/2024/QH15')
        mandate('VN/GOV/CAHN/residence', RESIDENCE, 'residence-management',
                'Luật Cư trú 68/2020/QH14')
        for ag in self.agencies[7:]:
            mandate(ag['client'], CITIZENS, 'provincial-check', 'Quyết định của UBND tỉnh')
        self.r = r

    # --- reads ----------------------------------------------------------
    def msg_id(self):
        self.msg += 1
        return 'm%09d' % self.msg

    def add(self, t, client, service, purpose, subjects, status=200, user_id='', issue='',
            own=0, event=0, consent=0, error_type='', label=None, message_id=None,
            gateway=None):
        if not (self.t0 <= t < self.end):
            return None
        rd = dict(time_ms=int(t), message_id=message_id or self.msg_id(), client=client,
                  service=service, method='GET', purpose=purpose, status=status,
                  user_id=user_id, issue=issue, own=own, event=event, consent=consent,
                  error_type=error_type, subjects=subjects,
                  gateway=gateway or (BHXH_GW if service == PARTICIPANTS else BCA_GW))
        self.reads.append((int(t), rd, label))
        return rd

    def legit(self, t, client, service, purpose, subjects, **kw):
        """A legitimate read, refused at the normal rates."""
        x = self.r.random()
        if x < 0.007:
            kw.update(status=500, error_type=ERR_DENIED)
        elif x < 0.0075:
            kw.update(status=500, error_type=ERR_INVALID)
        rd = self.add(t, client, service, purpose, subjects, **kw)
        if rd and self.r.random() < 0.001 and rd['status'] < 400:
            # a client's retry with the same X-Road-Id: a new signature, served
            self.add(t + self.r.randint(200, 5000), client, service, purpose, subjects,
                     message_id=rd['message_id'],
                     **{k: v for k, v in kw.items() if k not in ('status', 'error_type')})

    def local(self, day, hour, minute=0.0):
        return self.t0 + day * D + hour * H + minute * MIN

    def weekday(self, day):
        return day % 7  # the warm-up starts on a Monday

    def office_time(self, day):
        r = self.r
        h = r.choice([8, 8, 9, 9, 10, 10, 10, 11, 13, 14, 14, 15, 15, 16, 16])
        return self.local(day, h, r.uniform(0, 59))

    def count(self, per_100k):
        mean = per_100k * self.scale
        n = int(mean)
        return n + (1 if self.r.random() < mean - n else 0)

    def officer_read(self, t, ag, officer, proc, subjects):
        r = self.r
        via_portal = r.random() < 0.6
        client = PORTAL if via_portal else ag['client']
        issue = '%s/%s' % (proc['kind'], proc['id'])
        if r.random() < self.a.unexplained:
            # legitimate, unexplained: no issue sent, or a typo in it
            issue = '' if r.random() < 0.6 else '%s/%sx' % (proc['kind'], proc['id'])
        self.legit(t, client, CITIZENS, 'procedure', subjects, user_id=officer, issue=issue)

    def gen_procedures(self, days):
        r = self.r
        for day in days:
            wd = self.weekday(day)
            if wd == 6:
                continue
            for ag in self.agencies:
                n = self.count(ag['procs'] * (0.3 if wd == 5 else 1.0))
                for _ in range(n):
                    self.proc_n += 1
                    if 'home' in ag:
                        subject = self.of_provinces(ag['home'], ag.get('neighbours',
                                                    HANOI_NEIGHBOURS), 0.8)
                    else:
                        subject = self.anyone()
                    opened = self.office_time(day) if wd < 5 else self.local(
                        day, r.uniform(8, 11.5))
                    # closed in office hours some working days later, or still open
                    closed = None
                    if r.random() < 0.85:
                        cd = day + r.choice([0, 1, 2, 3, 5, 7, 10])
                        while self.weekday(cd) >= 5:
                            cd += 1
                        closed = self.office_time(cd)
                        if closed <= opened:
                            closed = opened + r.uniform(0.5, 3) * H
                    officer = r.choice(ag['officers'])
                    proc = dict(id='P%08d' % self.proc_n, kind=r.choice(ag['kinds']),
                                subject=subject, agency=ag['member'], opened_ms=int(opened),
                                closed_ms=int(closed) if closed else None)
                    self.procedures.append(proc)
                    subj = [subject]
                    if r.random() < 0.15:
                        subj = sorted({subject, self.anyone()})
                    # at opening
                    self.officer_read(opened + r.uniform(0.5, 20) * MIN, ag, officer, proc,
                                      subj)
                    # while handled, on office hours of later days
                    last = closed if closed else opened + 10 * D
                    for _ in range(r.choice([0, 1, 1, 2, 3])):
                        d = int((opened - self.t0) // D) + r.randint(0, max(0, int(
                            (last - opened) // D)))
                        while self.weekday(d) >= 5:
                            d += 1
                        t = self.office_time(d)
                        if t < opened:
                            t = opened + r.uniform(30, 120) * MIN
                        self.officer_read(t, ag, officer, proc, [subject])
                    if closed and r.random() < 0.3:
                        # the last documents, within the day after closing
                        t = closed + r.uniform(0.2, 2) * H
                        if self.weekday(int((t - self.t0) // D)) < 5 and \
                                8 <= ((t - self.t0) % D) / H < 17.5:
                            self.officer_read(t, ag, officer, proc, [subject])
                        else:
                            self.officer_read(self.office_time(int((closed - self.t0) // D) + 1),
                                              ag, officer, proc, [subject])

    def gen_mandates(self, days):
        r = self.r
        for day in days:
            wd = self.weekday(day)
            if wd < 5:
                # tax batch night 01:00-03:00
                n = self.count(400 * r.uniform(0.85, 1.15))
                for _ in range(n):
                    self.legit(self.local(day, r.uniform(1, 3)), 'VN/GOV/BTC/TCT', CITIZENS,
                               'tax-periodic-check', [self.anyone()])
                # social insurance batch morning 06:00-08:00
                n = self.count(300 * r.uniform(0.85, 1.15))
                for _ in range(n):
                    self.legit(self.local(day, r.uniform(6, 8)), 'VN/GOV/BHXH/insurance',
                               CITIZENS, 'contribution-check', [self.anyone()])
                # health insurance checks in office hours
                n = self.count(200 * r.uniform(0.8, 1.2))
                for _ in range(n):
                    self.legit(self.office_time(day), 'VN/GOV/BYT/health', PARTICIPANTS,
                               'health-insurance-check', [self.anyone()])
            # Hà Nội police, every day 07:00-21:00
            n = self.count(180 * r.uniform(0.8, 1.2) * (0.5 if wd >= 5 else 1))
            for _ in range(n):
                self.legit(self.local(day, r.uniform(7, 21)), 'VN/GOV/CAHN/residence',
                           RESIDENCE, 'residence-management',
                           [self.of_provinces('001', HANOI_NEIGHBOURS, 0.85)])
            # provincial departments' checks, office hours on weekdays
            if wd < 5:
                for ag in self.agencies[7:]:
                    for _ in range(self.count(40 * r.uniform(0.8, 1.2))):
                        self.legit(self.office_time(day), ag['client'], CITIZENS,
                                   'provincial-check',
                                   [self.of_provinces(ag['home'], ag['neighbours'], 0.85)])

    def gen_citizens(self, days):
        r = self.r
        for day in days:
            # subscriptions: population events delivered to social insurance and tax
            for _ in range(self.count(100)):
                who = self.anyone()
                t = self.local(day, r.uniform(0, 24))
                for sub in ('VN/GOV/BHXH/insurance', 'VN/GOV/BTC/TCT'):
                    self.legit(t + r.uniform(0, 5) * MIN, sub, CITIZENS, 'event-delivery',
                               [who], event=1)
            # citizens' own views through the portal
            for _ in range(self.count(250)):
                who = self.anyone()
                self.legit(self.local(day, r.uniform(6, 23)), PORTAL, CITIZENS, 'own-view',
                           [who], own=1)
            # consented reads by health (a hospital with the patient's consent)
            if self.weekday(day) < 6:
                for _ in range(self.count(150)):
                    self.legit(self.office_time(day), 'VN/GOV/BYT/health', PARTICIPANTS,
                               'treatment', [self.anyone()], consent=1)

    # --- injected misuse ------------------------------------------------
    def inject(self):
        r = self.r
        inc = [0]
        mdays = list(range(self.a.warmup_days, self.a.warmup_days + self.a.days))
        weekdays = [d for d in mdays if self.weekday(d) < 5]

        def label(kind, actor):
            inc[0] += 1
            return dict(kind=kind, incident='inc-%03d' % inc[0], actor=actor)

        nat = self.agencies[:7]
        # officers reading people with no open case: a neighbour, a celebrity
        celebrities = [self.anyone() for _ in range(5)]
        for i in range(12):
            ag = r.choice(nat)
            officer = r.choice(ag['officers'])
            lb = label('no-explanation', officer)
            day = r.choice(weekdays)
            targets = [r.choice(celebrities)] if i % 3 == 0 else [
                self.anyone() for _ in range(r.randint(1, 4))]
            own_case = [p for p in self.procedures[-2000:] if p['agency'] == ag['member']]
            for who in targets:
                issue = ''
                if own_case and r.random() < 0.4:
                    p = r.choice(own_case)  # a real case of theirs, someone else's
                    issue = '%s/%s' % (p['kind'], p['id'])
                client = PORTAL if r.random() < 0.5 else ag['client']
                self.add(self.office_time(day), client, CITIZENS, 'procedure', [who],
                         user_id=officer, issue=issue, label=lb)
        # bulk lookups: an officer, and a client under its mandate
        for i in range(2):
            ag = r.choice(nat)
            officer = r.choice(ag['officers'])
            lb = label('bulk', officer)
            t = self.office_time(r.choice(weekdays))
            for _ in range(r.randint(120, 200)):
                self.add(t + r.uniform(0, 40) * MIN, ag['client'], CITIZENS, 'procedure',
                         [self.anyone()], user_id=officer, label=lb)
        for i in range(2):
            lb = label('bulk', 'VN/GOV/BYT/health')
            t = self.local(r.choice(weekdays), r.choice([10, 14]), r.uniform(0, 10))
            for _ in range(r.randint(250, 400)):
                self.add(t + r.uniform(0, 45) * MIN, 'VN/GOV/BYT/health', PARTICIPANTS,
                         'health-insurance-check', [self.anyone()], label=lb)
        # reads at unusual hours: a client under its mandate on a Sunday night,
        # an officer late on a Saturday
        sundays = [d for d in mdays if self.weekday(d) == 6]
        saturdays = [d for d in mdays if self.weekday(d) == 5]
        for i in range(2):
            lb = label('off-hours', 'VN/GOV/BYT/health')
            t = self.local(r.choice(sundays), r.choice([2, 3, 23]), r.uniform(0, 20))
            for _ in range(r.randint(10, 30)):
                self.add(t + r.uniform(0, 30) * MIN, 'VN/GOV/BYT/health', PARTICIPANTS,
                         'health-insurance-check', [self.anyone()], label=lb)
        for i in range(2):
            ag = r.choice(nat[:4])
            officer = r.choice(ag['officers'])
            lb = label('off-hours', officer)
            t = self.local(r.choice(saturdays), 22, r.uniform(0, 30))
            for _ in range(r.randint(3, 8)):
                self.add(t + r.uniform(0, 20) * MIN, ag['client'], CITIZENS, 'procedure',
                         [self.anyone()], user_id=officer, label=lb)
        # reads of unusual provinces: the Hà Nội police (and provincial
        # departments) under their mandates, people born far away
        concentrated = [a for a in self.agencies if 'home' in a]
        for i in range(3 + min(3, len(concentrated) - 1)):
            ag = concentrated[i % len(concentrated)]
            near = {ag['home']} | set(ag.get('neighbours', HANOI_NEIGHBOURS))
            far = [p for p in PROVINCES if p not in near and self.by_prov[p]]
            lb = label('unusual-province', ag['client'])
            day = r.choice(weekdays)
            far_p = r.sample(far, 2)
            for _ in range(r.randint(5, 15)):
                who = r.choice(self.by_prov[r.choice(far_p)])
                if ag['member'] == 'VN/GOV/CAHN':
                    self.add(self.local(day, r.uniform(9, 17)), ag['client'], RESIDENCE,
                             'residence-management', [who], label=lb)
                else:
                    self.add(self.office_time(day), ag['client'], CITIZENS,
                             'provincial-check', [who], label=lb)
        # one person read by unrelated agencies under their mandates in a day
        mandated = [('VN/GOV/BTC/TCT', CITIZENS, 'tax-periodic-check'),
                    ('VN/GOV/BHXH/insurance', CITIZENS, 'contribution-check'),
                    ('VN/GOV/BYT/health', PARTICIPANTS, 'health-insurance-check'),
                    ('VN/GOV/CAHN/residence', RESIDENCE, 'residence-management')]
        for i in range(5):
            who = self.of_provinces('001', HANOI_NEIGHBOURS, 0.9)
            lb = label('repeated-subject', who)
            day = r.choice(weekdays)
            for client, svc, purpose in r.sample(mandated, r.choice([3, 4])):
                self.add(self.local(day, r.uniform(9, 16)), client, svc, purpose, [who],
                         label=lb)
        # probing: a surge of refusals
        for i in range(3):
            ag = r.choice(self.agencies)
            lb = label('probing', ag['client'])
            t = self.office_time(r.choice(weekdays))
            for _ in range(r.randint(40, 90)):
                self.add(t + r.uniform(0, 30) * MIN, ag['client'], CITIZENS,
                         r.choice(['procedure', 'treatment', 'tax-periodic-check']),
                         [self.anyone()], status=500, error_type=ERR_DENIED, label=lb)
        # replays: a served request sent again verbatim
        for i in range(6):
            ag = r.choice(nat)
            lb = label('replay', ag['client'])
            day = r.choice(weekdays)
            t = self.office_time(day)
            rd = self.add(t, ag['client'], CITIZENS, 'procedure', [self.anyone()],
                          user_id=r.choice(ag['officers']))
            for _ in range(r.randint(1, 3)):
                self.add(t + r.uniform(0.5, 30) * MIN, ag['client'], CITIZENS, 'procedure',
                         rd['subjects'], user_id=rd['user_id'], status=500,
                         error_type=ERR_INVALID, message_id=rd['message_id'], label=lb)

    def run(self, out):
        days = list(range(self.a.warmup_days + self.a.days))
        self.gen_procedures(days)
        self.gen_mandates(days)
        self.gen_citizens(days)
        self.inject()
        self.reads.sort(key=lambda x: x[0])
        os.makedirs(out, exist_ok=True)
        seqs = {}
        nlab = 0
        with open(os.path.join(out, 'reads.jsonl'), 'w') as f, \
                open(os.path.join(out, 'labels.jsonl'), 'w') as lf:
            for i, (t, rd, lb) in enumerate(self.reads, 1):
                seqs[rd['gateway']] = seqs.get(rd['gateway'], 0) + 1
                rd['seq'] = seqs[rd['gateway']]
                f.write(json.dumps(rd, separators=(',', ':')) + '\n')
                if lb:
                    nlab += 1
                    lf.write(json.dumps(dict(read=i, **lb), separators=(',', ':')) + '\n')
        with open(os.path.join(out, 'procedures.jsonl'), 'w') as f:
            for p in self.procedures:
                f.write(json.dumps(p, separators=(',', ':')) + '\n')
        with open(os.path.join(out, 'mandates.jsonl'), 'w') as f:
            for m in self.mandates:
                f.write(json.dumps(m, separators=(',', ':'), ensure_ascii=False) + '\n')
        meta = dict(seed=self.a.seed, agencies=self.a.agencies, citizens=self.a.citizens,
                    days=self.a.days, warmup_days=self.a.warmup_days,
                    unexplained=self.a.unexplained, warmup_start_ms=self.t0,
                    month_start_ms=self.month0, end_ms=self.end, reads=len(self.reads),
                    labelled=nlab, procedures=len(self.procedures),
                    mandates=len(self.mandates))
        with open(os.path.join(out, 'meta.json'), 'w') as f:
            json.dump(meta, f, indent=1)
        return meta


def main():
    a = parse_args()
    meta = Gen(a).run(a.out)
    print(json.dumps(meta))
    return 0


if __name__ == '__main__':
    sys.exit(main())
