using KernelLab.Cli;

return KernelLabCli.Run(args, Console.Out, Console.Error);
