import OpsCore
import Testing

@Suite struct OccupancyTests {
    let siteOf = ["env-a": "site-1", "env-b": "site-1", "env-c": "site-2"]

    @Test func aSharedKeyConflicts() {
        let occupancy = Occupancy(busy: ["env:env-a"], siteOf: siteOf)
        #expect(occupancy.conflicts(["env:env-a"]))
        #expect(!occupancy.conflicts(["env:env-b"]))
        #expect(!occupancy.conflicts(["env:env-c"]))
    }

    @Test func aSiteCoversItsEnvironmentsBothWays() {
        let environmentBusy = Occupancy(busy: ["env:env-a"], siteOf: siteOf)
        #expect(environmentBusy.conflicts(["site:site-1"]))
        #expect(!environmentBusy.conflicts(["site:site-2"]))
        let siteBusy = Occupancy(busy: ["site:site-1"], siteOf: siteOf)
        #expect(siteBusy.conflicts(["env:env-b"]))
        #expect(!siteBusy.conflicts(["env:env-c"]))
    }

    @Test func aPushHoldsBothOfItsEnvironments() {
        // A stored target is its keys one a line
        let occupancy = Occupancy(busy: ["env:env-a\nenv:env-b"], siteOf: [:])
        #expect(occupancy.conflicts(["env:env-b"]))
        #expect(Occupancy.keys(of: "env:env-a\nenv:env-b") == ["env:env-a", "env:env-b"])
    }

    @Test func anUnknownEnvironmentAsksForTheDirectory() {
        let occupancy = Occupancy(busy: ["env:env-x"], siteOf: siteOf)
        #expect(occupancy.needsUnknownEnvironment(["env:env-y"]))
        // A site job cannot be told apart from an environment in flight whose site is unknown
        #expect(occupancy.needsUnknownEnvironment(["site:site-1"]))
        #expect(!Occupancy(busy: ["env:env-a"], siteOf: siteOf).needsUnknownEnvironment(["site:site-2"]))
    }
}
