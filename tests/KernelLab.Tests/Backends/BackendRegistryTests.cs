using KernelLab.Backends;

namespace KernelLab.Tests;

/// <summary>
/// What every entry of the registry promises, whichever backends it holds: a unique name and a description, a probe
/// and a device list that never throw and say why not, a backend created under its entry's name, and a <c>--device</c>
/// that takes each listed id and rejects anything else in one line.
/// </summary>
public sealed class BackendRegistryTests
{
    public static TheoryData<string> Names => new(BackendRegistry.Names);

    private static readonly string[] Kinds = ["cpu", "gpu", "accelerator"];

    [Fact]
    public void EveryEntryHasAUniqueNameAndADescription()
    {
        Assert.NotEmpty(BackendRegistry.All);
        Assert.Equal(BackendRegistry.Names.Distinct(), BackendRegistry.Names);
        Assert.All(BackendRegistry.All, e =>
        {
            Assert.Matches("^[a-z0-9-]+$", e.Name);
            Assert.False(string.IsNullOrWhiteSpace(e.Description), e.Name);
        });
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void ProbeAndDevicesNeverThrowAndSayWhyNot(string name)
    {
        var entry = BackendRegistry.Find(name);
        AssertSaysWhyNot(entry.Probe());
        var devices = entry.Devices();
        Assert.Equal(devices.Select(d => d.Id).Distinct(), devices.Select(d => d.Id));
        Assert.All(devices, d =>
        {
            Assert.False(string.IsNullOrWhiteSpace(d.Id));
            Assert.DoesNotContain(' ', d.Id);
            Assert.False(string.IsNullOrWhiteSpace(d.Name));
            Assert.Contains(d.Kind, Kinds);
            AssertSaysWhyNot(d.Availability);
        });
        if (entry.Probe().IsAvailable)
            Assert.Contains(devices, d => d.Availability.IsAvailable);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void DeviceTakesEachListedIdAndNothingElse(string name)
    {
        using (var backend = TestBackends.CreateOrSkip(name))
            Assert.Equal(name, backend.Name);
        foreach (var device in BackendRegistry.Find(name).Devices().Where(d => d.Availability.IsAvailable))
        {
            using var backend = BackendRegistry.Create(name, device.Id);
            Assert.Equal(name, backend.Name);
        }
        var e = Assert.Throws<KernelLabException>(() => BackendRegistry.Create(name, "no-such-device"));
        Assert.Contains("'no-such-device'", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    private static void AssertSaysWhyNot(Availability availability)
    {
        if (availability.IsAvailable)
        {
            Assert.Null(availability.Reason);
            return;
        }
        Assert.False(string.IsNullOrWhiteSpace(availability.Reason));
        Assert.DoesNotContain('\n', availability.Reason);
    }
}
