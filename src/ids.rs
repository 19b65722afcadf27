//! Compact holders of participant numbers, for commands that must hold one entry per
//! participant: [`Packed`] (the numbers' text end to end, found by binary search when
//! pushed in order) and [`Ids`] (a number ↔ a dense index, in order of first sighting).

/// Strings held end to end with where each ends: a dozen bytes for an 8-character
/// participant number, not a boxed string (~40) each.
#[derive(Debug, Default)]
pub struct Packed {
    text: String,
    ends: Vec<u32>,
}

impl Packed {
    /// Append `s`; its index is the count before.
    pub fn push(&mut self, s: &str) {
        self.text.push_str(s);
        self.ends
            .push(u32::try_from(self.text.len()).unwrap_or(u32::MAX));
    }
    /// The `i`th string; empty for an index never given.
    pub fn get(&self, i: usize) -> &str {
        let Some(&end) = self.ends.get(i) else {
            return "";
        };
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.text.get(start..end as usize).unwrap_or("")
    }
    pub fn len(&self) -> usize {
        self.ends.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
    /// The index of `s`, by binary search: for strings pushed in ascending byte order.
    pub fn find_sorted(&self, s: &str) -> Option<usize> {
        let (mut lo, mut hi) = (0, self.ends.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid).cmp(s) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }
}

/// Participant numbers, each held once, by index (the order of first sighting). Held
/// compactly, since there is one per participant: the numbers [`Packed`], and an
/// open-addressing table of indexes (about 20 bytes a participant for an 8-character
/// number, not the ~100 of a map of strings).
#[derive(Debug, Default)]
pub struct Ids {
    names: Packed,
    /// Index + 1 of the number hashed there, 0 for an empty slot; a power of two long,
    /// at most half full.
    slots: Vec<u32>,
}

/// FNV-1a: participant numbers are short, and the table needs no defence against
/// chosen collisions (a keying is the program's own data).
fn hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^ (h >> 29)
}

impl Ids {
    fn slot_of(&self, id: &str) -> (usize, Option<u32>) {
        let mask = self.slots.len() - 1;
        let mut at = (hash(id) as usize) & mask;
        loop {
            match self.slots[at] {
                0 => return (at, None),
                n if self.name(n - 1) == id => return (at, Some(n - 1)),
                _ => at = (at + 1) & mask,
            }
        }
    }

    fn grow(&mut self) {
        let len = (self.slots.len() * 2).max(1024);
        self.slots = vec![0; len];
        let mask = len - 1;
        for i in 0..self.names.len() as u32 {
            let mut at = (hash(self.name(i)) as usize) & mask;
            while self.slots[at] != 0 {
                at = (at + 1) & mask;
            }
            self.slots[at] = i + 1;
        }
    }

    pub fn intern(&mut self, id: &str) -> u32 {
        if (self.names.len() + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let (at, found) = self.slot_of(id);
        if let Some(i) = found {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(id);
        self.slots[at] = i + 1;
        i
    }
    pub fn name(&self, i: u32) -> &str {
        self.names.get(i as usize)
    }
    pub fn len(&self) -> usize {
        self.names.len()
    }
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::{Ids, Packed};

    #[test]
    fn numbers_are_found_by_binary_search_and_others_are_not() {
        let mut s = Packed::default();
        let ids = ["A1", "A10", "A2", "B", "BB", "あ"];
        for id in ids {
            s.push(id);
        }
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(s.find_sorted(id), Some(i));
        }
        for missing in ["", "A", "A11", "A3", "BA", "C", "ん"] {
            assert_eq!(s.find_sorted(missing), None, "{missing}");
        }
        assert_eq!(Packed::default().find_sorted("A1"), None);
    }

    #[test]
    fn each_number_gets_one_index_in_order_of_first_sighting_across_the_table_growing() {
        let mut ids = Ids::default();
        assert!(ids.is_empty());
        assert_eq!(ids.intern("B2"), 0);
        assert_eq!(ids.intern("A1"), 1);
        assert_eq!(ids.intern("B2"), 0);
        assert_eq!(ids.intern(""), 2);
        // Far past the first table (1,024 slots), numbers sharing prefixes and lengths.
        for i in 0..20_000u32 {
            assert_eq!(ids.intern(&format!("P{i:06}")), 3 + i);
        }
        for i in (0..20_000u32).rev() {
            assert_eq!(ids.intern(&format!("P{i:06}")), 3 + i);
        }
        assert_eq!(ids.len(), 20_003);
        assert_eq!(ids.name(0), "B2");
        assert_eq!(ids.name(1), "A1");
        assert_eq!(ids.name(2), "");
        assert_eq!(ids.name(20_002), "P019999");
        assert_eq!(ids.name(20_003), "", "an index never given has no number");
        assert_eq!(ids.intern("A1"), 1);
    }
}
