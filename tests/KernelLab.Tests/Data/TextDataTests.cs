using KernelLab.Backends;
using KernelLab.Models;
using KernelLab.Models.Data;

namespace KernelLab.Tests.Data;

/// <summary>Text data as models/Data/README.md draws it: files and folders concatenated as bytes, cut into windows of T.</summary>
public sealed class TextDataTests : IDisposable
{
    private static readonly LstmConfig Lstm = new(256, 8, 8, 1);

    private readonly DataFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    /// <summary>101 bytes in which the byte at i is 1 + i: a window's tokens say where it starts.</summary>
    private static readonly byte[] Corpus = Enumerable.Range(0, 101).Select(i => (byte)(1 + i)).ToArray();

    private static TrainingData Load(BatchShape shape, double fraction, params string[] files) =>
        TrainingData.Load(new TextSpec(files, fraction), Lstm, shape);

    /// <summary>Byte i of the corpus for sample <paramref name="slot"/>, row-major [B, T], from the byte where its window starts.</summary>
    private static void AssertWindow(Batch batch, int slot, int start)
    {
        int t = batch.Shape.Steps;
        Assert.Equal(Corpus[start..(start + t)].Select(b => (int)b), batch.Tokens![(slot * t)..(slot * t + t)]);
        Assert.Equal(Corpus[(start + 1)..(start + t + 1)].Select(b => (int)b), batch.Targets[(slot * t)..(slot * t + t)]);
    }

    [Fact]
    public void WindowsOfTrainingAndValidation()
    {
        string path = _folder.Write("corpus.txt", Corpus);
        var shape = new BatchShape(3, 4);
        var data = Load(shape, 0.2, path); // validation floor(101 * 0.2) = 20 bytes from 81: 4 windows; training 81 bytes: 20 windows
        Assert.Equal("text: 1 file, 81 training bytes (20 windows of 4), 20 validation bytes", data.Describe());
        Assert.Equal(20, data.TrainingExamples);
        Assert.Equal(6, data.BatchesPerEpoch);
        Assert.False(data.HasTest);

        int[] order = [16, 3, 4, 10, 17, 13, 8, 2, 18, 0, 11, 12, 14, 6, 1, 5, 9, 7, 15, 19]; // seed 1, epoch 0 (Python transcription)
        var batch = Batch.Allocate(Lstm, shape);
        data.FillTrainingBatch(1, 0, 2, batch);
        for (int slot = 0; slot < 3; slot++)
            AssertWindow(batch, slot, order[6 + slot] * 4);

        Assert.Equal(1, data.EvaluationBatches(Split.Validation)); // only full batches: the 4th window is left out
        Assert.Equal(3, data.FillEvaluationBatch(Split.Validation, 0, batch));
        for (int slot = 0; slot < 3; slot++)
            AssertWindow(batch, slot, 81 + slot * 4);
        Assert.Throws<InvalidOperationException>(() => data.EvaluationBatches(Split.Test));
        Assert.Throws<InvalidOperationException>(() => data.FillEvaluationBatch(Split.Test, 0, batch));
    }

    [Fact]
    public void DrawingATrainingBatchAllocatesNothing()
    {
        var shape = new BatchShape(3, 4);
        DataFolder.AssertDrawsWithoutAllocating(Load(shape, 0.2, _folder.Write("corpus.txt", Corpus)), Batch.Allocate(Lstm, shape));
    }

    [Fact]
    public void AFolderIsItsRegularFilesInOrdinalNameOrder()
    {
        string folder = _folder.File("corpus");
        Directory.CreateDirectory(Path.Combine(folder, "sub"));
        File.WriteAllText(Path.Combine(folder, "sub", "nested"), new string('n', 50));
        File.WriteAllText(Path.Combine(folder, "a"), new string('a', 20));
        File.WriteAllText(Path.Combine(folder, "B"), new string('b', 20)); // 'B' < 'a' in ordinal order
        File.WriteAllBytes(Path.Combine(folder, "a.dat"), [0, 0, 0, 2, 0, 0, 0, 1]); // a fortune index: a NUL would refuse it
        File.CreateSymbolicLink(Path.Combine(folder, "a.u8"), "a");

        var shape = new BatchShape(2, 4);
        var data = Load(shape, 0.5, folder);
        Assert.Equal("text: 2 files, 20 training bytes (4 windows of 4), 20 validation bytes", data.Describe());
        var batch = Batch.Allocate(Lstm, shape);
        data.FillTrainingBatch(1, 0, 0, batch);
        Assert.All(batch.Tokens!, id => Assert.Equal('b', id));
        data.FillEvaluationBatch(Split.Validation, 0, batch);
        Assert.All(batch.Tokens!, id => Assert.Equal('a', id));

        // Entries are concatenated in the order listed, and a file named on its own is read even as a symlink.
        data = Load(shape, 0.5, Path.Combine(folder, "a.u8"), folder);
        Assert.Equal("text: 3 files, 30 training bytes (7 windows of 4), 30 validation bytes", data.Describe());
        data.FillEvaluationBatch(Split.Validation, 2, batch); // windows 4 and 5: bytes 16 to 25 of the split, past B's last 10
        Assert.All(batch.Tokens!, id => Assert.Equal('a', id));
    }

    [Fact]
    public void AFileWithANulByteIsNotText()
    {
        string good = _folder.Write("good", Corpus);
        string bad = _folder.Write("bad", [65, 66, 67, 68, 69, 0, 70]);
        var e = Assert.Throws<KernelLabException>(() => Load(new BatchShape(2, 4), 0.2, good, bad));
        Assert.Equal($"{bad}: byte 5 is NUL: not a text file", e.Message);
    }

    [Fact]
    public void AFolderWithoutTextFilesIsRefused()
    {
        string folder = _folder.File("empty");
        Directory.CreateDirectory(folder);
        string expected = $"{folder}: no text files (regular files other than .dat indexes and symlinks)";
        Assert.Equal(expected, Assert.Throws<KernelLabException>(() => Load(new BatchShape(2, 4), 0.2, folder)).Message);
        File.WriteAllBytes(Path.Combine(folder, "cookie.dat"), [1, 2, 3]);
        File.CreateSymbolicLink(Path.Combine(folder, "cookie.u8"), _folder.Write("cookie", Corpus));
        Assert.Equal(expected, Assert.Throws<KernelLabException>(() => Load(new BatchShape(2, 4), 0.2, folder)).Message);
    }

    [Fact]
    public void AMissingFileNamesFortunesWhereItWouldInstallIt()
    {
        string fortune = "/usr/share/games/fortunes/no-such-fortune";
        Assert.Equal($"{fortune}: not found: install Debian's fortunes (apt-get install fortunes)",
            Assert.Throws<KernelLabException>(() => Load(new BatchShape(2, 4), 0.2, fortune)).Message);
        string other = _folder.File("absent");
        Assert.Equal($"{other}: not found", Assert.Throws<KernelLabException>(() => Load(new BatchShape(2, 4), 0.2, other)).Message);
    }

    [Fact]
    public void ASplitTooSmallForOneBatchSaysHowManyBytesItNeeds()
    {
        string path = _folder.Write("short", Corpus[..30]);
        var e = Assert.Throws<KernelLabException>(() => Load(new BatchShape(2, 4), 0.1, path));
        Assert.Equal($"{path}: the validation split of the 30 bytes is 3 bytes, fewer than the 9 that one batch of 2 windows of 4 needs (B*T + 1)", e.Message);
        e = Assert.Throws<KernelLabException>(() => Load(new BatchShape(8, 4), 0.5, path));
        Assert.Contains("the training split of the 30 bytes is 15 bytes, fewer than the 33", e.Message);
        Assert.Equal(1, Load(new BatchShape(2, 4), 0.3, path).EvaluationBatches(Split.Validation)); // 9 bytes: exactly one batch
    }

    [Fact]
    public void RealFortunes()
    {
        const string folder = "/usr/share/games/fortunes";
        if (!Directory.Exists(folder))
            Assert.Skip("fortunes is not installed");
        var files = new DirectoryInfo(folder).GetFiles().Where(f => f.LinkTarget is null && f.Extension != ".dat").ToArray();
        long length = files.Sum(f => f.Length);
        long validation = (long)Math.Floor(length * 0.05);
        var shape = new BatchShape(32, 64);
        var data = Load(shape, 0.05, folder);
        Assert.Equal((length - validation - 1) / 64, data.TrainingExamples);
        Assert.StartsWith($"text: {files.Length} files, {length - validation:N0} training bytes", data.Describe());
        Assert.EndsWith($", {validation:N0} validation bytes", data.Describe());
        var batch = Batch.Allocate(Lstm, shape);
        data.FillTrainingBatch(1, 0, data.BatchesPerEpoch - 1, batch);
        Assert.All(batch.Tokens!, id => Assert.InRange(id, 1, 255));
    }
}
