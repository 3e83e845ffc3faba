package datasets

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestBucketsDrawWithinTheAnchorsBucket(t *testing.T) {
	lengths := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 3, 3, 4}
	for _, width := range []int{1, 3, 5} {
		b := NewBuckets(lengths, width)
		rng := rand.New(rand.NewPCG(1, 2))
		leaders := map[int]int{}
		for range 2000 {
			batch := b.Draw(rng, 6)
			leaders[batch[0]]++
			for _, i := range batch {
				if (lengths[i]-1)/width != (lengths[batch[0]]-1)/width {
					t.Fatalf("width %d: batch %v mixes buckets", width, batch)
				}
			}
		}
		for i := range lengths {
			if leaders[i] < 2000/len(lengths)/3 {
				t.Errorf("width %d: item %d led %d of 2000 batches; the anchor must be uniform over items", width, i, leaders[i])
			}
		}
		again := NewBuckets(lengths, width).Draw(rand.New(rand.NewPCG(1, 2)), 6)
		if first := NewBuckets(lengths, width).Draw(rand.New(rand.NewPCG(1, 2)), 6); !slices.Equal(first, again) {
			t.Errorf("width %d: the same seed drew %v and %v", width, first, again)
		}
	}
}

func TestBucketsGroupsEveryItemOnce(t *testing.T) {
	lengths := []int{5, 1, 5, 2, 5, 1, 9, 5}
	for _, tc := range []struct {
		width, size int
		want        [][]int
	}{
		{1, 2, [][]int{{1, 5}, {3}, {0, 2}, {4, 7}, {6}}},
		{5, 3, [][]int{{0, 1, 2}, {3, 4, 5}, {7}, {6}}},
		{10, 8, [][]int{{0, 1, 2, 3, 4, 5, 6, 7}}},
	} {
		if got := NewBuckets(lengths, tc.width).Groups(tc.size); !slices.EqualFunc(got, tc.want, slices.Equal) {
			t.Errorf("width %d size %d: groups %v, want %v", tc.width, tc.size, got, tc.want)
		}
	}
}

func TestSortedGroups(t *testing.T) {
	lengths := []int{5, 1, 9, 1, 3, 12, 3, 2}
	tests := []struct {
		size int
		want [][]int
	}{
		{3, [][]int{{1, 3, 7}, {4, 6, 0}, {2, 5}}},
		{8, [][]int{{1, 3, 7, 4, 6, 0, 2, 5}}},
		{100, [][]int{{1, 3, 7, 4, 6, 0, 2, 5}}},
		{0, [][]int{{1}, {3}, {7}, {4}, {6}, {0}, {2}, {5}}},
	}
	for _, tt := range tests {
		if got := SortedGroups(lengths, tt.size); !slices.EqualFunc(got, tt.want, slices.Equal) {
			t.Errorf("SortedGroups(%v, %d) = %v, want %v", lengths, tt.size, got, tt.want)
		}
	}
	if got := SortedGroups(nil, 4); len(got) != 0 {
		t.Errorf("SortedGroups(nil) = %v, want no groups", got)
	}
}
