// Every RRULE example of RFC 5545 section 3.8.5.3, as data. Times are wall-clock in
// America/New_York (the RFC's "US-Eastern"); `dates` are the expected occurrence dates at the
// DTSTART's time of day unless `walls` gives full times. Open-ended rules are compared on
// their first `dates.length` occurrences.

export interface RfcCase {
  name: string;
  dtstart: string;
  rrule: string;
  exdates?: string[];
  /** Expected occurrence dates (at the DTSTART's time of day). */
  dates?: string[];
  /** Expected occurrence wall-clock times, when times vary. */
  walls?: string[];
}

/** Dates from `from` to `to` inclusive, every `step` days. */
export function dayRange(from: string, to: string, step = 1): string[] {
  const out: string[] = [];
  const end = Date.parse(`${to}T00:00Z`);
  for (let t = Date.parse(`${from}T00:00Z`); t <= end; t += step * 86_400_000)
    out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

const d = (y: number, m: number, days: number[]) =>
  days.map((x) => `${y}-${String(m).padStart(2, '0')}-${String(x).padStart(2, '0')}`);
const DT = '1997-09-02T09:00';

export const RFC5545_CASES: RfcCase[] = [
  {
    name: 'Daily for 10 occurrences',
    dtstart: DT,
    rrule: 'FREQ=DAILY;COUNT=10',
    dates: dayRange('1997-09-02', '1997-09-11'),
  },
  {
    name: 'Daily until December 24, 1997',
    dtstart: DT,
    rrule: 'FREQ=DAILY;UNTIL=19971224T000000Z',
    dates: dayRange('1997-09-02', '1997-12-23'),
  },
  {
    name: 'Every other day - forever',
    dtstart: DT,
    rrule: 'FREQ=DAILY;INTERVAL=2',
    dates: dayRange('1997-09-02', '1997-12-31', 2),
  },
  {
    name: 'Every 10 days, 5 occurrences',
    dtstart: DT,
    rrule: 'FREQ=DAILY;INTERVAL=10;COUNT=5',
    dates: [...d(1997, 9, [2, 12, 22]), ...d(1997, 10, [2, 12])],
  },
  {
    name: 'Every day in January, for 3 years (yearly form)',
    dtstart: '1998-01-01T09:00',
    rrule: 'FREQ=YEARLY;UNTIL=20000131T140000Z;BYMONTH=1;BYDAY=SU,MO,TU,WE,TH,FR,SA',
    dates: [
      ...dayRange('1998-01-01', '1998-01-31'),
      ...dayRange('1999-01-01', '1999-01-31'),
      ...dayRange('2000-01-01', '2000-01-31'),
    ],
  },
  {
    name: 'Every day in January, for 3 years (daily form)',
    dtstart: '1998-01-01T09:00',
    rrule: 'FREQ=DAILY;UNTIL=20000131T140000Z;BYMONTH=1',
    dates: [
      ...dayRange('1998-01-01', '1998-01-31'),
      ...dayRange('1999-01-01', '1999-01-31'),
      ...dayRange('2000-01-01', '2000-01-31'),
    ],
  },
  {
    name: 'Weekly for 10 occurrences',
    dtstart: DT,
    rrule: 'FREQ=WEEKLY;COUNT=10',
    dates: [...d(1997, 9, [2, 9, 16, 23, 30]), ...d(1997, 10, [7, 14, 21, 28]), ...d(1997, 11, [4])],
  },
  {
    name: 'Weekly until December 24, 1997',
    dtstart: DT,
    rrule: 'FREQ=WEEKLY;UNTIL=19971224T000000Z',
    dates: dayRange('1997-09-02', '1997-12-23', 7),
  },
  {
    name: 'Every other week - forever',
    dtstart: DT,
    rrule: 'FREQ=WEEKLY;INTERVAL=2;WKST=SU',
    dates: [
      ...d(1997, 9, [2, 16, 30]),
      ...d(1997, 10, [14, 28]),
      ...d(1997, 11, [11, 25]),
      ...d(1997, 12, [9, 23]),
      ...d(1998, 1, [6, 20]),
      ...d(1998, 2, [3, 17]),
    ],
  },
  {
    name: 'Weekly on Tuesday and Thursday for five weeks (UNTIL)',
    dtstart: DT,
    rrule: 'FREQ=WEEKLY;UNTIL=19971007T000000Z;WKST=SU;BYDAY=TU,TH',
    dates: [...d(1997, 9, [2, 4, 9, 11, 16, 18, 23, 25, 30]), ...d(1997, 10, [2])],
  },
  {
    name: 'Weekly on Tuesday and Thursday for five weeks (COUNT)',
    dtstart: DT,
    rrule: 'FREQ=WEEKLY;COUNT=10;WKST=SU;BYDAY=TU,TH',
    dates: [...d(1997, 9, [2, 4, 9, 11, 16, 18, 23, 25, 30]), ...d(1997, 10, [2])],
  },
  {
    name: 'Every other week on Monday, Wednesday, and Friday until December 24, 1997',
    dtstart: '1997-09-01T09:00',
    rrule: 'FREQ=WEEKLY;INTERVAL=2;UNTIL=19971224T000000Z;WKST=SU;BYDAY=MO,WE,FR',
    dates: [
      ...d(1997, 9, [1, 3, 5, 15, 17, 19, 29]),
      ...d(1997, 10, [1, 3, 13, 15, 17, 27, 29, 31]),
      ...d(1997, 11, [10, 12, 14, 24, 26, 28]),
      ...d(1997, 12, [8, 10, 12, 22]),
    ],
  },
  {
    name: 'Every other week on Tuesday and Thursday, for 8 occurrences',
    dtstart: DT,
    rrule: 'FREQ=WEEKLY;INTERVAL=2;COUNT=8;WKST=SU;BYDAY=TU,TH',
    dates: [...d(1997, 9, [2, 4, 16, 18, 30]), ...d(1997, 10, [2, 14, 16])],
  },
  {
    name: 'Monthly on the first Friday for 10 occurrences',
    dtstart: '1997-09-05T09:00',
    rrule: 'FREQ=MONTHLY;COUNT=10;BYDAY=1FR',
    dates: [
      ...d(1997, 9, [5]),
      ...d(1997, 10, [3]),
      ...d(1997, 11, [7]),
      ...d(1997, 12, [5]),
      ...d(1998, 1, [2]),
      ...d(1998, 2, [6]),
      ...d(1998, 3, [6]),
      ...d(1998, 4, [3]),
      ...d(1998, 5, [1]),
      ...d(1998, 6, [5]),
    ],
  },
  {
    name: 'Monthly on the first Friday until December 24, 1997',
    dtstart: '1997-09-05T09:00',
    rrule: 'FREQ=MONTHLY;UNTIL=19971224T000000Z;BYDAY=1FR',
    dates: [...d(1997, 9, [5]), ...d(1997, 10, [3]), ...d(1997, 11, [7]), ...d(1997, 12, [5])],
  },
  {
    name: 'Every other month on the first and last Sunday of the month for 10 occurrences',
    dtstart: '1997-09-07T09:00',
    rrule: 'FREQ=MONTHLY;INTERVAL=2;COUNT=10;BYDAY=1SU,-1SU',
    dates: [
      ...d(1997, 9, [7, 28]),
      ...d(1997, 11, [2, 30]),
      ...d(1998, 1, [4, 25]),
      ...d(1998, 3, [1, 29]),
      ...d(1998, 5, [3, 31]),
    ],
  },
  {
    name: 'Monthly on the second-to-last Monday of the month for 6 months',
    dtstart: '1997-09-22T09:00',
    rrule: 'FREQ=MONTHLY;COUNT=6;BYDAY=-2MO',
    dates: [
      ...d(1997, 9, [22]),
      ...d(1997, 10, [20]),
      ...d(1997, 11, [17]),
      ...d(1997, 12, [22]),
      ...d(1998, 1, [19]),
      ...d(1998, 2, [16]),
    ],
  },
  {
    name: 'Monthly on the third-to-the-last day of the month, forever',
    dtstart: '1997-09-28T09:00',
    rrule: 'FREQ=MONTHLY;BYMONTHDAY=-3',
    dates: [
      ...d(1997, 9, [28]),
      ...d(1997, 10, [29]),
      ...d(1997, 11, [28]),
      ...d(1997, 12, [29]),
      ...d(1998, 1, [29]),
      ...d(1998, 2, [26]),
    ],
  },
  {
    name: 'Monthly on the 2nd and 15th of the month for 10 occurrences',
    dtstart: DT,
    rrule: 'FREQ=MONTHLY;COUNT=10;BYMONTHDAY=2,15',
    dates: [
      ...d(1997, 9, [2, 15]),
      ...d(1997, 10, [2, 15]),
      ...d(1997, 11, [2, 15]),
      ...d(1997, 12, [2, 15]),
      ...d(1998, 1, [2, 15]),
    ],
  },
  {
    name: 'Monthly on the first and last day of the month for 10 occurrences',
    dtstart: '1997-09-30T09:00',
    rrule: 'FREQ=MONTHLY;COUNT=10;BYMONTHDAY=1,-1',
    dates: [
      ...d(1997, 9, [30]),
      ...d(1997, 10, [1, 31]),
      ...d(1997, 11, [1, 30]),
      ...d(1997, 12, [1, 31]),
      ...d(1998, 1, [1, 31]),
      ...d(1998, 2, [1]),
    ],
  },
  {
    name: 'Every 18 months on the 10th thru 15th of the month for 10 occurrences',
    dtstart: '1997-09-10T09:00',
    rrule: 'FREQ=MONTHLY;INTERVAL=18;COUNT=10;BYMONTHDAY=10,11,12,13,14,15',
    dates: [...d(1997, 9, [10, 11, 12, 13, 14, 15]), ...d(1999, 3, [10, 11, 12, 13])],
  },
  {
    name: 'Every Tuesday, every other month',
    dtstart: DT,
    rrule: 'FREQ=MONTHLY;INTERVAL=2;BYDAY=TU',
    dates: [
      ...d(1997, 9, [2, 9, 16, 23, 30]),
      ...d(1997, 11, [4, 11, 18, 25]),
      ...d(1998, 1, [6, 13, 20, 27]),
      ...d(1998, 3, [3, 10, 17, 24, 31]),
    ],
  },
  {
    name: 'Yearly in June and July for 10 occurrences',
    dtstart: '1997-06-10T09:00',
    rrule: 'FREQ=YEARLY;COUNT=10;BYMONTH=6,7',
    dates: [1997, 1998, 1999, 2000, 2001].flatMap((y) => [...d(y, 6, [10]), ...d(y, 7, [10])]),
  },
  {
    name: 'Every other year on January, February, and March for 10 occurrences',
    dtstart: '1997-03-10T09:00',
    rrule: 'FREQ=YEARLY;INTERVAL=2;COUNT=10;BYMONTH=1,2,3',
    dates: [
      ...d(1997, 3, [10]),
      ...[1999, 2001, 2003].flatMap((y) => [...d(y, 1, [10]), ...d(y, 2, [10]), ...d(y, 3, [10])]),
    ],
  },
  {
    name: 'Every third year on the 1st, 100th, and 200th day for 10 occurrences',
    dtstart: '1997-01-01T09:00',
    rrule: 'FREQ=YEARLY;INTERVAL=3;COUNT=10;BYYEARDAY=1,100,200',
    dates: [
      '1997-01-01',
      '1997-04-10',
      '1997-07-19',
      '2000-01-01',
      '2000-04-09',
      '2000-07-18',
      '2003-01-01',
      '2003-04-10',
      '2003-07-19',
      '2006-01-01',
    ],
  },
  {
    name: 'Every 20th Monday of the year, forever',
    dtstart: '1997-05-19T09:00',
    rrule: 'FREQ=YEARLY;BYDAY=20MO',
    dates: ['1997-05-19', '1998-05-18', '1999-05-17'],
  },
  {
    name: 'Monday of week number 20 (where the default start of the week is Monday), forever',
    dtstart: '1997-05-12T09:00',
    rrule: 'FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO',
    dates: ['1997-05-12', '1998-05-11', '1999-05-17'],
  },
  {
    name: 'Every Thursday in March, forever',
    dtstart: '1997-03-13T09:00',
    rrule: 'FREQ=YEARLY;BYMONTH=3;BYDAY=TH',
    dates: [...d(1997, 3, [13, 20, 27]), ...d(1998, 3, [5, 12, 19, 26]), ...d(1999, 3, [4, 11, 18, 25])],
  },
  {
    name: 'Every Thursday, but only during June, July, and August, forever',
    dtstart: '1997-06-05T09:00',
    rrule: 'FREQ=YEARLY;BYDAY=TH;BYMONTH=6,7,8',
    dates: [
      ...d(1997, 6, [5, 12, 19, 26]),
      ...d(1997, 7, [3, 10, 17, 24, 31]),
      ...d(1997, 8, [7, 14, 21, 28]),
      ...d(1998, 6, [4, 11, 18, 25]),
      ...d(1998, 7, [2, 9, 16, 23, 30]),
      ...d(1998, 8, [6, 13, 20, 27]),
      ...d(1999, 6, [3, 10, 17, 24]),
      ...d(1999, 7, [1, 8, 15, 22, 29]),
      ...d(1999, 8, [5, 12, 19, 26]),
    ],
  },
  {
    name: 'Every Friday the 13th, forever (DTSTART excluded by EXDATE)',
    dtstart: DT,
    rrule: 'FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13',
    exdates: [DT],
    dates: ['1998-02-13', '1998-03-13', '1998-11-13', '1999-08-13', '2000-10-13'],
  },
  {
    name: 'The first Saturday that follows the first Sunday of the month, forever',
    dtstart: '1997-09-13T09:00',
    rrule: 'FREQ=MONTHLY;BYDAY=SA;BYMONTHDAY=7,8,9,10,11,12,13',
    dates: [
      '1997-09-13',
      '1997-10-11',
      '1997-11-08',
      '1997-12-13',
      '1998-01-10',
      '1998-02-07',
      '1998-03-07',
      '1998-04-11',
      '1998-05-09',
      '1998-06-13',
    ],
  },
  {
    name: 'Every 4 years, the first Tuesday after a Monday in November, forever (U.S. Presidential Election day)',
    dtstart: '1996-11-05T09:00',
    rrule: 'FREQ=YEARLY;INTERVAL=4;BYMONTH=11;BYDAY=TU;BYMONTHDAY=2,3,4,5,6,7,8',
    dates: ['1996-11-05', '2000-11-07', '2004-11-02'],
  },
  {
    name: 'The third instance into the month of one of Tuesday, Wednesday, or Thursday, for the next 3 months',
    dtstart: '1997-09-04T09:00',
    rrule: 'FREQ=MONTHLY;COUNT=3;BYDAY=TU,WE,TH;BYSETPOS=3',
    dates: ['1997-09-04', '1997-10-07', '1997-11-06'],
  },
  {
    name: 'The second-to-last weekday of the month',
    dtstart: '1997-09-29T09:00',
    rrule: 'FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-2',
    dates: ['1997-09-29', '1997-10-30', '1997-11-27', '1997-12-30', '1998-01-29', '1998-02-26', '1998-03-30'],
  },
  {
    // As printed, UNTIL=19970902T170000Z is 13:00 EDT, yet the printed result lists 15:00; the
    // rule as written gives 09:00 and 12:00. The next case uses the UNTIL the result implies.
    name: 'Every 3 hours from 9:00 AM to 5:00 PM on a specific day (UNTIL as printed)',
    dtstart: DT,
    rrule: 'FREQ=HOURLY;INTERVAL=3;UNTIL=19970902T170000Z',
    walls: ['1997-09-02T09:00', '1997-09-02T12:00'],
  },
  {
    name: 'Every 3 hours from 9:00 AM to 5:00 PM on a specific day (UNTIL 17:00 EDT)',
    dtstart: DT,
    rrule: 'FREQ=HOURLY;INTERVAL=3;UNTIL=19970902T210000Z',
    walls: ['1997-09-02T09:00', '1997-09-02T12:00', '1997-09-02T15:00'],
  },
  {
    name: 'Every 15 minutes for 6 occurrences',
    dtstart: DT,
    rrule: 'FREQ=MINUTELY;INTERVAL=15;COUNT=6',
    walls: ['09:00', '09:15', '09:30', '09:45', '10:00', '10:15'].map((t) => `1997-09-02T${t}`),
  },
  {
    name: 'Every hour and a half for 4 occurrences',
    dtstart: DT,
    rrule: 'FREQ=MINUTELY;INTERVAL=90;COUNT=4',
    walls: ['09:00', '10:30', '12:00', '13:30'].map((t) => `1997-09-02T${t}`),
  },
  {
    name: 'Every 20 minutes from 9:00 AM to 4:40 PM every day (daily form)',
    dtstart: DT,
    rrule: 'FREQ=DAILY;BYHOUR=9,10,11,12,13,14,15,16;BYMINUTE=0,20,40',
    walls: ['1997-09-02', '1997-09-03'].flatMap((day) =>
      [9, 10, 11, 12, 13, 14, 15, 16].flatMap((h) =>
        [0, 20, 40].map((m) => `${day}T${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`),
      ),
    ),
  },
  {
    name: 'Every 20 minutes from 9:00 AM to 4:40 PM every day (minutely form)',
    dtstart: DT,
    rrule: 'FREQ=MINUTELY;INTERVAL=20;BYHOUR=9,10,11,12,13,14,15,16',
    walls: ['1997-09-02', '1997-09-03'].flatMap((day) =>
      [9, 10, 11, 12, 13, 14, 15, 16].flatMap((h) =>
        [0, 20, 40].map((m) => `${day}T${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`),
      ),
    ),
  },
  {
    name: 'WKST: every other week on Tuesday and Sunday, week starting Monday',
    dtstart: '1997-08-05T09:00',
    rrule: 'FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=MO',
    dates: ['1997-08-05', '1997-08-10', '1997-08-19', '1997-08-24'],
  },
  {
    name: 'WKST: every other week on Tuesday and Sunday, week starting Sunday',
    dtstart: '1997-08-05T09:00',
    rrule: 'FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=SU',
    dates: ['1997-08-05', '1997-08-17', '1997-08-19', '1997-08-31'],
  },
  {
    name: 'An invalid date (February 30) is ignored',
    dtstart: '2007-01-15T09:00',
    rrule: 'FREQ=MONTHLY;BYMONTHDAY=15,30;COUNT=5',
    dates: ['2007-01-15', '2007-01-30', '2007-02-15', '2007-03-15', '2007-03-30'],
  },
];
